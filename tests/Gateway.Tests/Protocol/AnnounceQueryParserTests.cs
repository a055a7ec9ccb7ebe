using System.Net;
using System.Text;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Gateway.Tests.Protocol;

public sealed class AnnounceQueryParserTests
{
    // Every troublemaker for a text decoder: NUL, 0xFF, '+', '%', a UTF-8 lead byte and ASCII.
    private static readonly byte[] NastyHash = [0x00, 0xFF, (byte)'+', (byte)'%', 0xC3, 0x28, 0x80, (byte)'a', 0x20, 0x7F, 0x01, 0xFE, (byte)'&', (byte)'=', 0x00, 0x00, 0xE2, 0x82, 0xAC, 0x0A];
    private static readonly byte[] PeerIdBytes = Encoding.ASCII.GetBytes("-qB4520-(lK_Rfapt!~A");

    private static string Valid(string? replace = null, string? with = null)
    {
        var query = $"info_hash={UrlBytes.Encode(NastyHash)}&peer_id={UrlBytes.Encode(PeerIdBytes)}&port=6881&uploaded=10&downloaded=20&left=30&event=started&numwant=80&compact=1";
        return replace is null ? query : query.Replace(replace, with);
    }

    private static (bool Ok, AnnounceQuery Query, string? Failure) Parse(string query, bool trust = false)
    {
        var ok = AnnounceQueryParser.TryParse(Encoding.ASCII.GetBytes(query), trust, out var parsed, out var failure);
        return (ok, parsed, failure);
    }

    [Fact]
    public void Parse_InfoHashWithHighAndReservedBytes_KeepsRawBytes()
    {
        var (ok, query, failure) = Parse(Valid());

        Assert.True(ok, failure);
        Assert.Equal(NastyHash, query.InfoHash.Value.ToArray());
        Assert.Equal(PeerIdBytes, query.PeerId.Value.ToArray());
        Assert.Equal(6881, query.Port);
        Assert.Equal(10, query.Uploaded);
        Assert.Equal(20, query.Downloaded);
        Assert.Equal(30, query.Left);
        Assert.Equal(AnnounceEvent.Started, query.Event);
        Assert.Equal(80, query.NumWant);
        Assert.True(query.Compact);
    }

    [Fact]
    public void Parse_LiteralPlusInHash_IsSpace()
    {
        var hash = "abcdefghijklmnopqrs+";
        var (ok, query, _) = Parse(Valid(UrlBytes.Encode(NastyHash), hash));

        Assert.True(ok);
        Assert.Equal(Encoding.ASCII.GetBytes("abcdefghijklmnopqrs "), query.InfoHash.Value.ToArray());
    }

    [Fact]
    public void Parse_UnknownKeysAndOrder_AreIgnored()
    {
        var (ok, query, _) = Parse("supportcrypto=1&left=0&corrupt=0&key=86A40ACD&redundant=0&port=1&" + Valid().Replace("&port=6881", "").Replace("&left=30", "") + "&x=%ZZ");

        Assert.True(ok);
        Assert.Equal(0, query.Left);
        Assert.Equal(1, query.Port);
    }

    [Fact]
    public void Parse_NoEventNoNumwantNoCompact_UsesDefaults()
    {
        var (ok, query, _) = Parse(Valid("&event=started&numwant=80&compact=1", ""));

        Assert.True(ok);
        Assert.Equal(AnnounceEvent.None, query.Event);
        Assert.Equal(-1, query.NumWant);
        Assert.True(query.Compact);
    }

    [Theory]
    [InlineData("event=started", AnnounceEvent.Started)]
    [InlineData("event=completed", AnnounceEvent.Completed)]
    [InlineData("event=stopped", AnnounceEvent.Stopped)]
    [InlineData("event=paused", AnnounceEvent.Paused)]
    [InlineData("event=empty", AnnounceEvent.None)]
    [InlineData("event=", AnnounceEvent.None)]
    public void Parse_Event_IsRecognised(string parameter, AnnounceEvent expected)
    {
        var (ok, query, _) = Parse(Valid("event=started", parameter));

        Assert.True(ok);
        Assert.Equal(expected, query.Event);
    }

    [Theory]
    [InlineData("&port=6881", "", TrackerFailure.MissingPort)]
    [InlineData("port=6881", "port=0", TrackerFailure.InvalidPort)]
    [InlineData("port=6881", "port=65536", TrackerFailure.InvalidPort)]
    [InlineData("port=6881", "port=-1", TrackerFailure.InvalidPort)]
    [InlineData("port=6881", "port=abc", TrackerFailure.InvalidPort)]
    [InlineData("port=6881", "port=", TrackerFailure.InvalidPort)]
    [InlineData("uploaded=10", "uploaded=-10", TrackerFailure.InvalidUploaded)]
    [InlineData("uploaded=10", "uploaded=1e5", TrackerFailure.InvalidUploaded)]
    [InlineData("uploaded=10", "uploaded=99999999999999999999", TrackerFailure.InvalidUploaded)]
    [InlineData("&uploaded=10", "", TrackerFailure.MissingUploaded)]
    [InlineData("downloaded=20", "downloaded=2.5", TrackerFailure.InvalidDownloaded)]
    [InlineData("&downloaded=20", "", TrackerFailure.MissingDownloaded)]
    [InlineData("left=30", "left=-1", TrackerFailure.InvalidLeft)]
    [InlineData("left=30", "left=+3", TrackerFailure.InvalidLeft)]
    [InlineData("&left=30", "", TrackerFailure.MissingLeft)]
    [InlineData("event=started", "event=finished", TrackerFailure.InvalidEvent)]
    [InlineData("event=started", "event=STARTED", TrackerFailure.InvalidEvent)]
    [InlineData("numwant=80", "numwant=-5", TrackerFailure.InvalidNumWant)]
    [InlineData("compact=1", "compact=yes", TrackerFailure.InvalidCompact)]
    [InlineData("port=6881", "port=6881&port=6882", TrackerFailure.DuplicateParameter)]
    public void Parse_BadParameter_FailsWithReason(string replace, string with, string expected)
    {
        var (ok, _, failure) = Parse(Valid(replace, with));

        Assert.False(ok);
        Assert.Equal(expected, failure);
    }

    [Fact]
    public void Parse_MissingInfoHash_Fails() =>
        Assert.Equal(TrackerFailure.MissingInfoHash, Parse(Valid($"info_hash={UrlBytes.Encode(NastyHash)}&", "")).Failure);

    [Fact]
    public void Parse_MissingPeerId_Fails() =>
        Assert.Equal(TrackerFailure.MissingPeerId, Parse(Valid($"peer_id={UrlBytes.Encode(PeerIdBytes)}&", "")).Failure);

    [Theory]
    [InlineData(19)]
    [InlineData(21)]
    [InlineData(0)]
    [InlineData(40)]
    public void Parse_InfoHashOfWrongLength_Fails(int length)
    {
        var (ok, _, failure) = Parse(Valid(UrlBytes.Encode(NastyHash), UrlBytes.Encode(new byte[length])));

        Assert.False(ok);
        Assert.Equal(TrackerFailure.InvalidInfoHash, failure);
    }

    [Fact]
    public void Parse_ShortPeerId_Fails() =>
        Assert.Equal(TrackerFailure.InvalidPeerId, Parse(Valid(UrlBytes.Encode(PeerIdBytes), "-qB4520-short")).Failure);

    [Theory]
    [InlineData("%ZZ")]
    [InlineData("%0")]
    public void Parse_BrokenPercentEncodingInHash_Fails(string broken)
    {
        var (ok, _, failure) = Parse(Valid(UrlBytes.Encode(NastyHash), UrlBytes.Encode(NastyHash[..19]) + broken));

        Assert.False(ok);
        Assert.Equal(TrackerFailure.BrokenEncoding, failure);
    }

    [Fact]
    public void Parse_Bep7HintsNotTrusted_AreIgnoredWithoutAWarning()
    {
        // As libtorrent sends them on every announce of a private torrent from a host with public addresses.
        var (ok, query, _) = Parse(Valid() + "&ipv6=2001%3Adb8%3A%3A5&ipv4=203.0.113.9");

        Assert.True(ok);
        Assert.Null(query.ClaimedIPv4);
        Assert.Null(query.ClaimedIPv6);
        Assert.False(query.IgnoredClaimedAddress);
    }

    [Fact]
    public void Parse_IpNotTrusted_IsIgnoredAndFlaggedForAWarning()
    {
        var (ok, query, _) = Parse(Valid() + "&ip=203.0.113.9&ipv4=203.0.113.9");

        Assert.True(ok);
        Assert.Null(query.ClaimedIPv4);
        Assert.True(query.IgnoredClaimedAddress);
    }

    [Fact]
    public void Parse_ClaimedAddressTrusted_IsRead()
    {
        var (ok, query, _) = Parse(Valid() + "&ipv4=10.1.2.3%3A999&ipv6=2001%3Adb8%3A%3A1", trust: true);

        Assert.True(ok);
        Assert.Equal(IPAddress.Parse("10.1.2.3"), query.ClaimedIPv4);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), query.ClaimedIPv6);
    }

    [Theory]
    [InlineData("ipv4=not-an-ip")]
    [InlineData("ip=0")]                     // parses as 0.0.0.0
    [InlineData("ip=127.1")]                 // parses as 127.0.0.1
    [InlineData("ipv4=255.255.255.255")]
    [InlineData("ipv4=224.0.0.1")]
    [InlineData("ipv6=%3A%3A1")]
    [InlineData("ipv6=%3A%3A")]
    [InlineData("ipv6=ff02%3A%3A1")]
    public void Parse_ClaimedAddressTrustedButNotOneAPeerCouldDial_Fails(string claim) =>
        Assert.Equal(TrackerFailure.InvalidAddress, Parse(Valid() + "&" + claim, trust: true).Failure);

    [Fact]
    public void Parse_EmptyQuery_Fails() => Assert.Equal(TrackerFailure.MissingInfoHash, Parse("").Failure);

    [Fact]
    public void Parse_EncodedThenParsed_RoundTripsEveryByteValue()
    {
        // parse(encode(x)) == x for all 256 byte values, spread over 13 hashes.
        for (var start = 0; start < 256; start += 20)
        {
            var hash = Enumerable.Range(start, 20).Select(i => (byte)(i % 256)).ToArray();
            var (ok, query, _) = Parse(Valid(UrlBytes.Encode(NastyHash), UrlBytes.Encode(hash)));

            Assert.True(ok);
            Assert.Equal(hash, query.InfoHash.Value.ToArray());
        }
    }
}
