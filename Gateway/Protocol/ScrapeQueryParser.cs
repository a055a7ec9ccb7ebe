using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>Reads every <c>info_hash</c> of a scrape (BEP 48); other keys are ignored.</summary>
internal static class ScrapeQueryParser
{
    /// <summary>Fills <paramref name="hashes"/>; more hashes than it holds is a failure, duplicates are kept once.</summary>
    public static bool TryParse(ReadOnlySpan<byte> query, Span<InfoHash> hashes, out int count, out string? failure)
    {
        count = 0;
        failure = null;
        while (!query.IsEmpty)
        {
            var end = query.IndexOf((byte)'&');
            var pair = end < 0 ? query : query[..end];
            query = end < 0 ? [] : query[(end + 1)..];
            if (!pair.StartsWith("info_hash="u8))
            {
                continue;
            }

            if (!AnnounceQueryParser.TryDecodeBytes20(pair["info_hash="u8.Length..], out var bytes))
            {
                failure = TrackerFailure.InvalidInfoHash;
                return false;
            }

            var hash = new InfoHash(bytes);
            if (hashes[..count].Contains(hash))
            {
                continue;
            }

            if (count == hashes.Length)
            {
                failure = TrackerFailure.TooManyScrapeHashes;
                return false;
            }

            hashes[count++] = hash;
        }

        if (count == 0)
        {
            failure = TrackerFailure.MissingInfoHash;
            return false;
        }

        return true;
    }
}
