using Chihaya.Orleans.Gateway.Protocol.Bencode;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>Writes a scrape reply: <c>files</c> keyed by the raw 20-byte hashes, in byte order.</summary>
internal static class ScrapeResponseWriter
{
    // 23 for the key, 38 for the three keys, 3 × 21 for the integers, and the dictionary's d…e.
    private const int PerFile = 128;

    public static int MaxSize(int files) => 32 + (files * PerFile);

    /// <param name="buffer">Where to write.</param>
    /// <param name="hashes">The hashes asked for, sorted by their raw bytes.</param>
    /// <param name="counts">Each hash's figures, same order; unregistered torrents are left out.</param>
    public static int Write(Span<byte> buffer, ReadOnlySpan<InfoHash> hashes, ReadOnlySpan<TorrentCounts> counts)
    {
        var writer = new BencodeWriter(buffer);
        Span<byte> key = stackalloc byte[Bytes20.Length];
        writer.DictionaryStart();
        writer.Raw("5:files"u8);
        writer.DictionaryStart();
        for (var i = 0; i < hashes.Length; i++)
        {
            if (!counts[i].IsRegistered)
            {
                continue;
            }

            hashes[i].Value.CopyTo(key);
            writer.Bytes(key);
            writer.DictionaryStart();
            writer.Raw("8:complete"u8);
            writer.Integer(counts[i].Complete);
            writer.Raw("10:downloaded"u8);
            writer.Integer(counts[i].Downloaded);
            writer.Raw("10:incomplete"u8);
            writer.Integer(counts[i].Incomplete);
            writer.End();
        }

        writer.End();
        writer.End();
        return writer.Written;
    }
}
