using System.Net;
using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// The address other peers should dial: the socket's, or behind a trusted reverse proxy the client's
/// address from <c>X-Forwarded-For</c> (right-most untrusted entry; an entry that is no address ends the search at the
/// proxy's own) or <c>X-Real-IP</c>.
/// </summary>
internal sealed class ClientAddressResolver
{
    private readonly IOptionsMonitor<GatewayOptions> _options;
    private TrustedProxies _trusted = TrustedProxies.None;
    private string[]? _trustedSource;

    public ClientAddressResolver(IOptionsMonitor<GatewayOptions> options) => _options = options;

    public IPAddress? Resolve(HttpContext context)
    {
        var remote = Normalize(context.Connection.RemoteIpAddress);
        var trusted = Trusted();
        if (remote is null || !trusted.Contains(remote))
        {
            return remote;
        }

        var forwarded = context.Request.Headers["X-Forwarded-For"];
        for (var i = forwarded.Count - 1; i >= 0; i--)
        {
            var hops = (forwarded[i] ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (var j = hops.Length - 1; j >= 0; j--)
            {
                if (ParseHop(hops[j]) is not { } address)
                {
                    // Everything left of an entry the proxies did not write as an address is the client's own say: the
                    // last trusted proxy is all that is known.
                    return remote;
                }

                if (!trusted.Contains(address))
                {
                    return address;
                }
            }
        }

        return IPAddress.TryParse(context.Request.Headers["X-Real-IP"].ToString(), out var real) ? Normalize(real) : remote;
    }

    /// <summary>
    /// The address to hold a request's client to (its count of unknown passkeys), or null when <paramref name="resolved"/>
    /// is no single client's: loopback (the operator's own tools, or a proxy on this host) or a trusted proxy whose
    /// request named no client; behind either, every client would share one count. An untrusted sender is held by its
    /// own address, forwarding headers or not (they are its own say): a proxy missing from Gateway:TrustedProxies makes
    /// its clients share one count, as it already makes them share one address in every swarm.
    /// </summary>
    public IPAddress? SingleClient(IPAddress? resolved) =>
        resolved is null || IPAddress.IsLoopback(resolved) || Trusted().Contains(resolved) ? null : resolved;

    /// <summary>An address, or an address with a port as some proxies append the client (<c>203.0.113.9:51234</c>, <c>[2001:db8::5]:443</c>).</summary>
    private static IPAddress? ParseHop(string hop) =>
        IPAddress.TryParse(hop, out var address) ? Normalize(address)
        : IPEndPoint.TryParse(hop, out var endpoint) ? Normalize(endpoint.Address)
        : null;

    private static IPAddress? Normalize(IPAddress? address) =>
        address is null ? null : TrustedProxies.Normalize(address);

    private TrustedProxies Trusted()
    {
        var configured = _options.CurrentValue.TrustedProxies;
        if (!ReferenceEquals(configured, _trustedSource))
        {
            _trusted = TrustedProxies.Parse(configured);
            _trustedSource = configured;
        }

        return _trusted;
    }
}
