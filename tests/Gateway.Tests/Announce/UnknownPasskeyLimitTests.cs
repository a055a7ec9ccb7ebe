using System.Net;
using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Http;
using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Gateway.Tests.Announce;

/// <summary>
/// The per-address count of unknown passkeys: an address past the limit is refused until its minute ends, others are
/// not, an IPv6 /64 counts as one address, the table is bounded per window, and a limit of 0 is none.
/// </summary>
public sealed class UnknownPasskeyLimitTests
{
    private static readonly IPAddress Flooder = IPAddress.Parse("198.51.100.7");
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    [Fact]
    public void AddressPastTheLimit_IsRefusedUntilItsMinuteEnds_OthersAreNot()
    {
        var limit = Limit(perMinute: 3);

        limit.Count(Flooder);
        limit.Count(Flooder);
        var belowTheLimit = limit.IsOverLimit(Flooder);
        limit.Count(Flooder);
        var atTheLimit = limit.IsOverLimit(Flooder);
        var another = limit.IsOverLimit(IPAddress.Parse("198.51.100.8"));
        _clock.Advance(TimeSpan.FromMinutes(1));

        Assert.False(belowTheLimit);
        Assert.True(atTheLimit);
        Assert.False(another);
        Assert.False(limit.IsOverLimit(Flooder));
    }

    [Fact]
    public void IPv6Addresses_CountByTheir64()
    {
        var limit = Limit(perMinute: 2);

        limit.Count(IPAddress.Parse("2001:db8:1:2::1"));
        limit.Count(IPAddress.Parse("2001:db8:1:2:ffff::9"));

        Assert.True(limit.IsOverLimit(IPAddress.Parse("2001:db8:1:2::77")));
        Assert.False(limit.IsOverLimit(IPAddress.Parse("2001:db8:1:3::1")));
    }

    [Fact]
    public void PastItsCapacity_NewAddressesGoUncounted_UntilTheWindowRolls()
    {
        var limit = Limit(perMinute: 2);
        for (var i = 0; i < UnknownPasskeyLimit.Capacity; i++)
        {
            limit.Count(new IPAddress(BitConverter.GetBytes(0x0A000000 + i).Reverse().ToArray()));
        }

        limit.Count(Flooder);
        limit.Count(Flooder);
        var uncounted = limit.IsOverLimit(Flooder);
        var firstAddress = new IPAddress([10, 0, 0, 0]);
        limit.Count(firstAddress);
        var countedStill = limit.IsOverLimit(firstAddress);
        _clock.Advance(TimeSpan.FromMinutes(1));
        limit.Count(Flooder);
        limit.Count(Flooder);

        Assert.False(uncounted);
        Assert.True(countedStill);
        Assert.True(limit.IsOverLimit(Flooder));
    }

    [Fact]
    public void AfterTheWindowRolls_CountsStartAgain_AndCountsInTheNewWindowHold()
    {
        var limit = Limit(perMinute: 3);
        limit.Count(Flooder);
        limit.Count(Flooder);
        _clock.Advance(TimeSpan.FromMinutes(1));

        limit.Count(Flooder);
        limit.Count(Flooder);
        var twoInTheNewWindow = limit.IsOverLimit(Flooder);
        limit.Count(Flooder);

        Assert.False(twoInTheNewWindow);
        Assert.True(limit.IsOverLimit(Flooder));
    }

    [Fact]
    public void LimitOfZero_RefusesNobody()
    {
        var limit = Limit(perMinute: 0);

        for (var i = 0; i < 100; i++)
        {
            limit.Count(Flooder);
        }

        Assert.False(limit.IsOverLimit(Flooder));
    }

    private UnknownPasskeyLimit Limit(int perMinute)
    {
        var options = new StaticGatewayOptions(new GatewayOptions { UnknownPasskeysPerMinute = perMinute });
        return new(options, new ClientAddressResolver(options), _clock, NullLogger<UnknownPasskeyLimit>.Instance);
    }
}
