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
    IReadOnlyList<TorrentUsage> Torrents,
    IReadOnlyList<UserTorrentUsage>? UserTorrents = null)
{
    public IReadOnlyList<UserTorrentUsage> History => UserTorrents ?? [];
}

/// <summary>Traffic to add to one user's totals.</summary>
internal readonly record struct UserUsage(long UserId, Traffic Traffic);

/// <summary>Traffic and snatches to add to one torrent's totals, and its swarm's size now.</summary>
internal readonly record struct TorrentUsage(long TorrentId, Traffic Traffic, long Snatches, int Seeders = 0, int Leechers = 0);

/// <summary>
/// A user's history on one torrent: traffic and seeding time to add, when the download completed (kept
/// from the first time) and the latest announce.
/// </summary>
internal readonly record struct UserTorrentUsage(
    long UserId,
    long TorrentId,
    Traffic Traffic,
    long SeedingSeconds,
    DateTimeOffset? CompletedAt,
    DateTimeOffset LastAnnounceAt)
{
    /// <summary>This batch's entry followed by a later one of the same user and torrent.</summary>
    public UserTorrentUsage Then(UserTorrentUsage later) => this with
    {
        Traffic = Traffic + later.Traffic,
        SeedingSeconds = SeedingSeconds + later.SeedingSeconds,
        CompletedAt = CompletedAt ?? later.CompletedAt,
        LastAnnounceAt = later.LastAnnounceAt > LastAnnounceAt ? later.LastAnnounceAt : LastAnnounceAt,
    };
}
