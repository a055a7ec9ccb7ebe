using System.Buffers.Binary;
using System.Net;
using Chihaya.Orleans.Gateway.Protocol.Bencode;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>
/// Writes announce replies (BEP 3 dictionary model, BEP 23 compact peers, BEP 7 <c>peers6</c>) and failures.
/// Keys go in sorted order, as bencode requires.
/// </summary>
internal static class AnnounceReplyWriter
{
    private const int FixedPart = 256;
    private const int DictionaryPeerSize = 128;

    /// <summary>An upper bound of the reply's size, to rent a buffer once.</summary>
    public static int MaxSize(in AnnounceReply reply)
    {
        var result = reply.Result;
        var peers = reply.Compact
            ? result.Peers4.Length + result.Peers6.Length
            : ((result.Peers4.Length / 6) + (result.Peers6.Length / 18)) * DictionaryPeerSize;
        return FixedPart + peers + BencodeWriter.MaxTextSize(reply.Warning);
    }

    public static int Write(Span<byte> buffer, in AnnounceReply reply)
    {
        var result = reply.Result;
        var writer = new BencodeWriter(buffer);
        writer.DictionaryStart();
        writer.Raw("8:complete"u8);
        writer.Integer(result.Seeders);
        writer.Raw("10:downloaded"u8);
        writer.Integer(result.Snatches);
        writer.Raw("10:incomplete"u8);
        writer.Integer(result.Leechers);
        writer.Raw("8:interval"u8);
        writer.Integer(reply.IntervalSeconds);
        writer.Raw("12:min interval"u8);
        writer.Integer(reply.MinIntervalSeconds);
        writer.Raw("5:peers"u8);
        if (reply.Compact)
        {
            writer.Bytes(result.Peers4);
            if (result.Peers6.Length > 0)
            {
                writer.Raw("6:peers6"u8);
                writer.Bytes(result.Peers6);
            }
        }
        else
        {
            writer.ListStart();
            WriteDictionaryPeers(ref writer, result.Peers4, 4, result.PeerIds4);
            WriteDictionaryPeers(ref writer, result.Peers6, 16, result.PeerIds6);
            writer.End();
        }

        if (reply.Warning is not null)
        {
            writer.Raw("15:warning message"u8);
            writer.Text(reply.Warning);
        }

        writer.End();
        return writer.Written;
    }

    /// <summary>A refusal: HTTP 200 with only <c>failure reason</c>, which every client shows to its user.</summary>
    public static int WriteFailure(Span<byte> buffer, string reason)
    {
        var writer = new BencodeWriter(buffer);
        writer.DictionaryStart();
        writer.Raw("14:failure reason"u8);
        writer.Text(reason);
        writer.End();
        return writer.Written;
    }

    public static int MaxFailureSize(string reason) => 32 + BencodeWriter.MaxTextSize(reason);

    private static void WriteDictionaryPeers(ref BencodeWriter writer, byte[] packed, int addressLength, byte[]? peerIds)
    {
        var entrySize = addressLength + 2;
        Span<byte> text = stackalloc byte[64];
        for (int offset = 0, index = 0; offset < packed.Length; offset += entrySize, index++)
        {
            var entry = packed.AsSpan(offset, entrySize);
            var address = new IPAddress(entry[..addressLength]);
            address.TryFormat(text, out var written);
            writer.DictionaryStart();
            writer.Raw("2:ip"u8);
            writer.Bytes(text[..written]);
            if (peerIds is not null)
            {
                writer.Raw("7:peer id"u8);
                writer.Bytes(peerIds.AsSpan(index * 20, 20));
            }

            writer.Raw("4:port"u8);
            writer.Integer(BinaryPrimitives.ReadUInt16BigEndian(entry[addressLength..]));
            writer.End();
        }
    }
}
