using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>Reads every <c>info_hash</c> of a scrape (BEP 48); other keys are ignored.</summary>
internal static class ScrapeQueryParser
{
    /// <summary>
    /// Fills <paramref name="hashes"/>; more hashes than it holds is a failure, duplicates are kept once. A malformed
    /// hash beside good ones is left out, as an unregistered one is (BEP 48 lets a tracker leave out what it does not
    /// know): a client scraping many torrents at once (Transmission) would otherwise get none for one it holds as a
    /// BEP 52 v2 torrent (a 32-byte hash). Only a scrape with no good hash fails.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> query, Span<InfoHash> hashes, out int count, out string? failure)
    {
        count = 0;
        failure = null;
        var malformed = false;
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
                malformed = true;
                continue;
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
            failure = malformed ? TrackerFailure.InvalidInfoHash : TrackerFailure.MissingInfoHash;
            return false;
        }

        return true;
    }
}
