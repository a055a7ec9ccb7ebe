using System.Net;
using Chihaya.Orleans.Gateway.Http;

namespace Chihaya.Orleans.Gateway.Tests.Http;

public sealed class TrustedProxiesTests
{
    [Theory]
    [InlineData("10.0.0.5", "10.0.0.5", true)]
    [InlineData("10.0.0.5", "10.0.0.6", false)]
    [InlineData("10.0.0.0/8", "10.255.1.2", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("172.16.0.0/12", "172.31.255.255", true)]
    [InlineData("172.16.0.0/12", "172.32.0.0", false)]
    [InlineData("fd00::/8", "fd12:3456::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)]
    [InlineData("::ffff:10.0.0.0/104", "10.9.9.9", true)]
    [InlineData("::1", "::1", true)]
    public void Contains_MatchesAddressesAndRanges(string entry, string sender, bool trusted)
    {
        var proxies = TrustedProxies.Parse([entry]);

        Assert.Equal(trusted, proxies.Contains(TrustedProxies.Normalize(IPAddress.Parse(sender))));
    }

    [Theory]
    [InlineData("nginx")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/")]
    [InlineData("")]
    public void AreValid_RefusesWhatIsNeitherAddressNorRange(string entry) =>
        Assert.False(TrustedProxies.AreValid([entry]));

    [Fact]
    public void AreValid_AcceptsAMixedList() =>
        Assert.True(TrustedProxies.AreValid(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]));
}
