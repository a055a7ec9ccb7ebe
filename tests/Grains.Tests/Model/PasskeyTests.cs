using Chihaya.Orleans.Grains.Interfaces.Documents;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Tests.Model;

public sealed class PasskeyTests
{
    private const string Secret = "0123456789abcdef0123456789abcdef";

    [Fact]
    public void ToString_OfPasskeyAndOfRecordsHoldingIt_NeverShowsTheSecret()
    {
        var view = new UserView(new Passkey(Secret), new UserProfile(1, Multipliers.Neutral, true), default);

        Assert.DoesNotContain(Secret, new Passkey(Secret).ToString());
        Assert.DoesNotContain(Secret, view.ToString());
    }

    [Fact]
    public void ToUserKey_IsAStableDigestThatDoesNotContainThePasskey()
    {
        var key = new Passkey(Secret).ToUserKey();

        Assert.Equal(64, key.ToHex().Length);
        Assert.Equal(key, Passkey.UserKeyOf(Secret));
        Assert.NotEqual(key, new Passkey(Secret + "x").ToUserKey());
        Assert.DoesNotContain(Secret, key.ToHex());
        Assert.True(UserKey.TryParseHex(key.ToHex().ToUpperInvariant(), out var parsed) && parsed == key);
    }

    [Fact]
    public void TorrentDocument_NullStatus_MeansActive()
    {
        var profile = new TorrentDocument { Id = 3, Status = null }.ToProfile(out var error);

        Assert.Null(error);
        Assert.Equal(TorrentStatus.Active, profile.Status);
    }
}
