using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// One batch of statistics for the site. (<see cref="Source"/>, <see cref="Sequence"/>) names it: the
/// store applies a batch once, so a flush retried after an unclear failure never counts twice.
/// </summary>
internal sealed record UsageWrite(
    string Source,
    long Sequence,
    IReadOnlyList<UserUsage> Users,
    IReadOnlyList<TorrentUsage> Torrents);

/// <summary>Traffic to add to one user's totals.</summary>
internal readonly record struct UserUsage(long UserId, Traffic Traffic);

/// <summary>Traffic and snatches to add to one torrent's totals.</summary>
internal readonly record struct TorrentUsage(long TorrentId, Traffic Traffic, long Snatches);
