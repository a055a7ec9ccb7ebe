using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>The accounting rules that turn two reports of a peer's totals into credited traffic.</summary>
internal static class TrafficCredit
{
    /// <summary>
    /// Traffic between a peer's previous and current totals. When either total went down the client
    /// restarted its session: the new totals become the baseline and nothing is credited, because the
    /// traffic since the restart cannot be told apart from traffic already credited.
    /// </summary>
    public static Traffic Between(long previousUploaded, long previousDownloaded, long uploaded, long downloaded, Multipliers multipliers)
    {
        if (uploaded < previousUploaded || downloaded < previousDownloaded)
        {
            return default;
        }

        return Apply(uploaded - previousUploaded, downloaded - previousDownloaded, multipliers);
    }

    /// <summary>
    /// Credits raw bytes: each direction is multiplied and rounded down to a whole byte, per announce,
    /// so credit is never more than the multipliers grant.
    /// </summary>
    public static Traffic Apply(long rawUploaded, long rawDownloaded, Multipliers multipliers) => new(
        rawUploaded,
        rawDownloaded,
        Scale(rawUploaded, multipliers.Upload),
        Scale(rawDownloaded, multipliers.Download));

    private static long Scale(long bytes, decimal factor)
    {
        if (bytes == 0 || factor == 0m)
        {
            return 0;
        }

        if (factor == 1m)
        {
            return bytes;
        }

        var scaled = decimal.Floor(bytes * factor);
        return scaled >= long.MaxValue ? long.MaxValue : (long)scaled;
    }
}
