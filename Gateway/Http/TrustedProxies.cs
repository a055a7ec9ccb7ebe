using System.Net;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// The reverse proxies whose forwarding headers are believed: single addresses (<c>10.0.0.5</c>) and CIDR ranges
/// (<c>10.0.0.0/8</c>, <c>fd00::/8</c>), because a proxy tier in Kubernetes or behind a cloud load balancer has
/// addresses from a range, not a fixed list. IPv4-mapped IPv6 senders are compared as IPv4.
/// </summary>
internal sealed class TrustedProxies
{
    private readonly IPNetwork[] _networks;

    private TrustedProxies(IPNetwork[] networks) => _networks = networks;

    public static TrustedProxies None { get; } = new([]);

    /// <summary>True when every entry is an address or a CIDR range.</summary>
    public static bool AreValid(IEnumerable<string> entries) => entries.All(entry => TryParseEntry(entry, out _));

    /// <summary>Parses entries already checked by <see cref="AreValid"/>.</summary>
    public static TrustedProxies Parse(IEnumerable<string> entries) =>
        new([.. entries.Select(entry => TryParseEntry(entry, out var network) ? network : throw new FormatException($"Not an address or CIDR range: '{entry}'."))]);

    public bool Contains(IPAddress address)
    {
        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryParseEntry(string entry, out IPNetwork network)
    {
        entry = entry.Trim();
        if (entry.Contains('/'))
        {
            if (IPNetwork.TryParse(entry, out network))
            {
                network = Normalize(network);
                return true;
            }

            return false;
        }

        if (IPAddress.TryParse(entry, out var address))
        {
            address = Normalize(address);
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        network = default;
        return false;
    }

    private static IPNetwork Normalize(IPNetwork network) =>
        network.BaseAddress.IsIPv4MappedToIPv6 && network.PrefixLength >= 96
            ? new IPNetwork(network.BaseAddress.MapToIPv4(), network.PrefixLength - 96)
            : network;

    internal static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
