using System.Net;
using Chihaya.Orleans.Gateway.Http;
using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Tests.Http;

/// <summary>Which address a swarm is given for an announcer that claims addresses (BEP 7) a gateway trusts.</summary>
public sealed class AnnounceAddressTests
{
    [Theory]
    // A claimed IPv4 address, which nearly every peer can reach, whatever the client announced over.
    [InlineData("198.51.100.7", "10.1.2.3", null, "10.1.2.3")]
    [InlineData("198.51.100.7", "10.1.2.3", "2001:db8::9", "10.1.2.3")]
    [InlineData("2001:db8::5", "10.1.2.3", null, "10.1.2.3")]
    [InlineData("2001:db8::5", "10.1.2.3", "2001:db8::9", "10.1.2.3")]
    // A claimed IPv6 address replaces only an IPv6 one.
    [InlineData("2001:db8::5", null, "2001:db8::9", "2001:db8::9")]
    // An IPv4 client with a global IPv6 address (as Transmission sends) stays where its IPv4 peers reach it: a swarm
    // keeps one address per peer.
    [InlineData("198.51.100.7", null, "2001:db8::9", "198.51.100.7")]
    // No claim: the address it announced from.
    [InlineData("198.51.100.7", null, null, "198.51.100.7")]
    public void AddressToServe_IsAClaimedIPv4_ElseAClaimedIPv6OverIPv6_ElseItsOwn(string announcedFrom, string? claimedIPv4, string? claimedIPv6, string served)
    {
        var query = new AnnounceQuery
        {
            ClaimedIPv4 = claimedIPv4 is null ? null : IPAddress.Parse(claimedIPv4),
            ClaimedIPv6 = claimedIPv6 is null ? null : IPAddress.Parse(claimedIPv6),
        };

        Assert.Equal(IPAddress.Parse(served), AnnounceEndpoint.AddressToServe(IPAddress.Parse(announcedFrom), query));
    }
}
