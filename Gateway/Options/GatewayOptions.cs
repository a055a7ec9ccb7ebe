namespace Chihaya.Orleans.Gateway.Options;

/// <summary>How the gateway reads requests. Section "Gateway".</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>
    /// Bytes one info hash takes in a scrape query when every byte is percent-encoded:
    /// <c>info_hash=</c>, 60 characters and <c>&amp;</c>.
    /// </summary>
    public const int EncodedScrapeHashLength = 71;

    /// <summary>The largest <see cref="MaxQueryLength"/> allowed.</summary>
    public const int MaxQueryLengthLimit = 65536;

    /// <summary>The largest <see cref="MaxScrapeHashes"/> allowed: as many as fit the largest query.</summary>
    public const int MaxScrapeHashesLimit = MaxQueryLengthLimit / EncodedScrapeHashLength;

    /// <summary>
    /// Longest query string accepted, in bytes. Real announces are under 500; a scrape of
    /// <see cref="MaxScrapeHashes"/> hashes needs up to <see cref="EncodedScrapeHashLength"/> bytes a hash, so this
    /// must be at least that product. Kestrel's request-line limit is set from it at start.
    /// </summary>
    public int MaxQueryLength { get; set; } = 8192;

    /// <summary>Most info hashes one scrape may ask for.</summary>
    public int MaxScrapeHashes { get; set; } = 64;

    /// <summary>
    /// Reverse proxies (nginx, a load balancer) whose <c>X-Forwarded-For</c> / <c>X-Real-IP</c> headers are believed:
    /// addresses or CIDR ranges (<c>10.0.0.0/8</c>). From any other sender the headers are ignored.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>
    /// How long an announce or scrape keeps calling the cluster again after a call failed because a silo died, was
    /// shutting down or handed the swarm on. Clients give a tracker 15 s or more; beyond this the client gets a
    /// failure reason and retries itself.
    /// </summary>
    public TimeSpan ClusterRetryFor { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long this gateway refuses a passkey or info hash again, without asking the cluster, after the cluster
    /// answered that the site does not know it. A key the site registers meanwhile is served once this is over. Zero:
    /// every announce asks the cluster.
    /// </summary>
    public TimeSpan UnknownKeyLifetime { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many passkeys the site does not know one client address (an IPv6 /64) may send in a minute; past that, its
    /// announces and scrapes are refused at once, with no call to the cluster, until the minute ends. Random passkeys
    /// each cost a silo a database read (and a random info hash beside one, a swarm's activation): this bounds what one
    /// source can make the cluster do. A passkey this gateway remembers as unknown counts once. Zero: no limit.
    /// </summary>
    public int UnknownPasskeysPerMinute { get; set; } = 60;

    /// <summary>Believe BEP 7's <c>ip</c>/<c>ipv4</c>/<c>ipv6</c> parameters. Off: a client could point a swarm at anyone.</summary>
    public bool TrustClaimedAddresses { get; set; }
}
