using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Gateway.Tests.Announce;

/// <summary>
/// The gateway's memory of keys the site does not know: a key is refused again without asking the cluster for its
/// lifetime and no longer, and a flood of distinct keys cannot make it grow without bound.
/// </summary>
public sealed class UnknownKeysTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    [Fact]
    public void UnknownPasskey_IsRememberedForItsLifetime_ThenAskedAgain()
    {
        var keys = Keys(Lifetime);
        var user = Passkey.UserKeyOf("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        var other = Passkey.UserKeyOf("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");

        Assert.False(keys.IsUnknownPasskey(user));
        keys.RememberUnknownPasskey(user);
        _clock.Advance(Lifetime - TimeSpan.FromTicks(1));
        var justBeforeItEnds = keys.IsUnknownPasskey(user);
        _clock.Advance(TimeSpan.FromTicks(1));

        Assert.True(justBeforeItEnds);
        Assert.False(keys.IsUnknownPasskey(user));
        Assert.False(keys.IsUnknownPasskey(other));
    }

    [Fact]
    public void UnregisteredInfoHash_IsRememberedForItsLifetime()
    {
        var keys = Keys(Lifetime);
        var infoHash = new InfoHash(Bytes20.Read(Enumerable.Range(1, 20).Select(b => (byte)b).ToArray()));

        keys.RememberUnregistered(infoHash);
        var whileRemembered = keys.IsUnregistered(infoHash);
        _clock.Advance(Lifetime);

        Assert.True(whileRemembered);
        Assert.False(keys.IsUnregistered(infoHash));
    }

    [Fact]
    public void ZeroLifetime_RemembersNothing()
    {
        var keys = Keys(TimeSpan.Zero);
        var user = Passkey.UserKeyOf("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

        keys.RememberUnknownPasskey(user);

        Assert.False(keys.IsUnknownPasskey(user));
    }

    [Fact]
    public void FullMemory_TakesNoNewKey_UntilEndedEntriesAreSweptAway()
    {
        var keys = Keys(Lifetime);
        for (var i = 0; i < UnknownKeys.Capacity; i++)
        {
            keys.RememberUnregistered(HashOf(i));
        }

        var first = HashOf(0);
        var beyond = HashOf(UnknownKeys.Capacity);
        keys.RememberUnregistered(beyond);
        var beyondWhileFull = keys.IsUnregistered(beyond);
        var firstWhileFull = keys.IsUnregistered(first);
        _clock.Advance(Lifetime);
        keys.RememberUnregistered(beyond);

        Assert.False(beyondWhileFull);
        Assert.True(firstWhileFull);
        Assert.True(keys.IsUnregistered(beyond));
        Assert.False(keys.IsUnregistered(first));
    }

    private UnknownKeys Keys(TimeSpan lifetime) => new(new StaticGatewayOptions(new GatewayOptions { UnknownKeyLifetime = lifetime }), _clock);

    private static InfoHash HashOf(int i)
    {
        var bytes = new byte[20];
        BitConverter.TryWriteBytes(bytes, i);
        return new InfoHash(Bytes20.Read(bytes));
    }
}
