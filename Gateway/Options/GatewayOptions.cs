namespace Chihaya.Orleans.Gateway.Options;

/// <summary>How the gateway reads requests. Section "Gateway".</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Longest query string accepted, in bytes; real announces are under 500.</summary>
    public int MaxQueryLength { get; set; } = 2048;

    /// <summary>Most info hashes one scrape may ask for.</summary>
    public int MaxScrapeHashes { get; set; } = 64;

    /// <summary>
    /// Addresses of reverse proxies (nginx, a load balancer) whose <c>X-Forwarded-For</c> / <c>X-Real-IP</c>
    /// headers are believed. From any other sender the headers are ignored.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>Believe BEP 7's <c>ip</c>/<c>ipv4</c>/<c>ipv6</c> parameters. Off: a client could point a swarm at anyone.</summary>
    public bool TrustClaimedAddresses { get; set; }
}
