using System.Text;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Gateway.Tests.Protocol;

public sealed class AnnounceReplyWriterTests
{
    private static readonly byte[] Peers4 = [127, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 2, 0xFF, 0xFF];
    private static readonly byte[] Peers6 = [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x50];

    private static Dictionary<string, object> Write(AnnounceReply reply)
    {
        var buffer = new byte[AnnounceReplyWriter.MaxSize(reply)];
        var length = AnnounceReplyWriter.Write(buffer, reply);
        return Bencode.DecodeDictionary(buffer.AsSpan(0, length));
    }

    [Fact]
    public void Write_Compact_HasEveryKeySortedAndPeersAsBlocks()
    {
        var result = new AnnounceResult(AnnounceStatus.Accepted, null, 3, 4, 5, Peers4, Peers6, null, null);

        var reply = Write(new AnnounceReply(result, 1800, 900, true, null));

        Assert.Equal(3L, reply["complete"]);
        Assert.Equal(4L, reply["incomplete"]);
        Assert.Equal(5L, reply["downloaded"]);
        Assert.Equal(1800L, reply["interval"]);
        Assert.Equal(900L, reply["min interval"]);
        Assert.Equal(Peers4, reply["peers"]);
        Assert.Equal(Peers6, reply["peers6"]);
        Assert.False(reply.ContainsKey("warning message"));
    }

    [Fact]
    public void Write_NoIPv6Peers_LeavesOutPeers6()
    {
        var result = new AnnounceResult(AnnounceStatus.Accepted, null, 0, 0, 0, [], [], null, null);

        var reply = Write(new AnnounceReply(result, 60, 30, true, "careful"));

        Assert.Equal(Array.Empty<byte>(), reply["peers"]);
        Assert.False(reply.ContainsKey("peers6"));
        Assert.Equal("careful"u8.ToArray(), reply["warning message"]);
    }

    [Fact]
    public void Write_DictionaryModel_ListsIpPeerIdAndPort()
    {
        var ids4 = Encoding.ASCII.GetBytes("-qB4520-aaaaaaaaaaaa-TR3000-bbbbbbbbbbbb");
        var ids6 = Encoding.ASCII.GetBytes("-LT2080-cccccccccccc");
        var result = new AnnounceResult(AnnounceStatus.Accepted, null, 1, 2, 0, Peers4, Peers6, ids4, ids6);

        var reply = Write(new AnnounceReply(result, 60, 30, false, null));

        var peers = Assert.IsType<List<object>>(reply["peers"]);
        Assert.Equal(3, peers.Count);
        var first = Assert.IsType<Dictionary<string, object>>(peers[0]);
        Assert.Equal("127.0.0.1"u8.ToArray(), first["ip"]);
        Assert.Equal(6881L, first["port"]);
        Assert.Equal(ids4[..20], first["peer id"]);
        var second = (Dictionary<string, object>)peers[1];
        Assert.Equal("10.0.0.2"u8.ToArray(), second["ip"]);
        Assert.Equal(65535L, second["port"]);
        var third = (Dictionary<string, object>)peers[2];
        Assert.Equal("2001:db8::1"u8.ToArray(), third["ip"]);
        Assert.Equal(80L, third["port"]);
        Assert.Equal(ids6, third["peer id"]);
    }

    [Fact]
    public void Write_DictionaryModelWithoutPeerIds_LeavesThemOut()
    {
        var result = new AnnounceResult(AnnounceStatus.Accepted, null, 1, 2, 0, Peers4, [], null, null);

        var reply = Write(new AnnounceReply(result, 60, 30, false, null));

        var peers = (List<object>)reply["peers"];
        Assert.All(peers, peer => Assert.False(((Dictionary<string, object>)peer).ContainsKey("peer id")));
    }

    [Fact]
    public void WriteFailure_NonAsciiReason_IsOneUtf8String()
    {
        var reason = "torrent has been deleted: dupe of «Ünïcode»";
        var buffer = new byte[AnnounceReplyWriter.MaxFailureSize(reason)];

        var length = AnnounceReplyWriter.WriteFailure(buffer, reason);

        var reply = Bencode.DecodeDictionary(buffer.AsSpan(0, length));
        Assert.Equal(Encoding.UTF8.GetBytes(reason), reply["failure reason"]);
        Assert.Single(reply);
    }
}
