using System.Text;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Gateway.Tests.Protocol;

public sealed class ScrapeProtocolTests
{
    [Fact]
    public void Parse_SeveralHashes_ReadsEachOnceAndIgnoresOtherKeys()
    {
        var a = UrlBytes.Random20();
        var b = UrlBytes.Random20();
        var query = $"info_hash={UrlBytes.Encode(a)}&passkey=x&info_hash={UrlBytes.Encode(b)}&info_hash={UrlBytes.Encode(a)}";
        var hashes = new InfoHash[8];

        Assert.True(ScrapeQueryParser.TryParse(Encoding.ASCII.GetBytes(query), hashes, out var count, out _));

        Assert.Equal(2, count);
        Assert.Equal(a, hashes[0].Value.ToArray());
        Assert.Equal(b, hashes[1].Value.ToArray());
    }

    [Fact]
    public void Parse_MoreHashesThanAllowed_Fails()
    {
        var query = string.Join('&', Enumerable.Range(0, 3).Select(_ => "info_hash=" + UrlBytes.Encode(UrlBytes.Random20())));

        Assert.False(ScrapeQueryParser.TryParse(Encoding.ASCII.GetBytes(query), new InfoHash[2], out _, out var failure));
        Assert.Equal(TrackerFailure.TooManyScrapeHashes, failure);
    }

    [Theory]
    [InlineData("", TrackerFailure.MissingInfoHash)]
    [InlineData("info_hash=short", TrackerFailure.InvalidInfoHash)]
    public void Parse_NoValidHash_Fails(string query, string expected)
    {
        Assert.False(ScrapeQueryParser.TryParse(Encoding.ASCII.GetBytes(query), new InfoHash[2], out _, out var failure));
        Assert.Equal(expected, failure);
    }

    [Fact]
    public void Parse_AMalformedHashBesideGoodOnes_IsLeftOut()
    {
        // A BEP 52 v2 torrent's 32-byte hash among a client's v1 torrents, scraped in one request.
        var good = UrlBytes.Random20();
        var v2 = new byte[32];
        Random.Shared.NextBytes(v2);
        var query = $"info_hash={UrlBytes.Encode(v2)}&info_hash={UrlBytes.Encode(good)}";
        var hashes = new InfoHash[8];

        Assert.True(ScrapeQueryParser.TryParse(Encoding.ASCII.GetBytes(query), hashes, out var count, out _));

        Assert.Equal(1, count);
        Assert.Equal(good, hashes[0].Value.ToArray());
    }

    [Fact]
    public void Write_RegisteredTorrents_KeyedByRawHashInByteOrder()
    {
        byte[] low = [0x00, .. new byte[19]];
        byte[] high = [0xFF, .. new byte[19]];
        byte[] unknown = [0x80, .. new byte[19]];
        InfoHash[] hashes = [InfoHash.Read(low), InfoHash.Read(unknown), InfoHash.Read(high)];
        TorrentCounts[] counts = [new(true, 1, 2, 3), TorrentCounts.Unregistered, new(true, 4, 5, 6)];
        var buffer = new byte[ScrapeResponseWriter.MaxSize(3)];

        var length = ScrapeResponseWriter.Write(buffer, hashes, counts);

        var files = (Dictionary<string, object>)Bencode.DecodeDictionary(buffer.AsSpan(0, length))["files"];
        Assert.Equal(2, files.Count);
        var first = (Dictionary<string, object>)files[Encoding.Latin1.GetString(low)];
        Assert.Equal(1L, first["complete"]);
        Assert.Equal(2L, first["incomplete"]);
        Assert.Equal(3L, first["downloaded"]);
        Assert.Equal(6L, ((Dictionary<string, object>)files[Encoding.Latin1.GetString(high)])["downloaded"]);
    }
}
