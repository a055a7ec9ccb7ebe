using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// One batch of statistics for the site. (<see cref="Source"/>, <see cref="Sequence"/>) names it: the
/// store applies a batch once, so a flush retried after an unclear failure never counts twice.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.UsageWrite")]
internal sealed record UsageWrite(
    [property: Id(0)] string Source,
    [property: Id(1)] long Sequence,
    [property: Id(2)] IReadOnlyList<UserUsage> Users,
    [property: Id(3)] IReadOnlyList<TorrentUsage> Torrents,
    [property: Id(4)] IReadOnlyList<UserTorrentUsage>? UserTorrents = null)
{
    public IReadOnlyList<UserTorrentUsage> History => UserTorrents ?? [];
}

/// <summary>Traffic to add to one user's totals.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.UserUsage")]
internal readonly record struct UserUsage([property: Id(0)] long UserId, [property: Id(1)] Traffic Traffic);

/// <summary>
/// Traffic to add to one torrent's totals, and its swarm's size now. <see cref="Snatches"/> is the swarm's own
/// count, which it shows until the batch is written; the store counts snatches from the history rows instead.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.TorrentUsage")]
internal readonly record struct TorrentUsage(
    [property: Id(0)] long TorrentId,
    [property: Id(1)] Traffic Traffic,
    [property: Id(2)] long Snatches,
    [property: Id(3)] int Seeders = 0,
    [property: Id(4)] int Leechers = 0);

/// <summary>
/// A user's history on one torrent: traffic and seeding time to add, when the download completed (kept
/// from the first time) and the latest announce.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.UserTorrentUsage")]
internal readonly record struct UserTorrentUsage(
    [property: Id(0)] long UserId,
    [property: Id(1)] long TorrentId,
    [property: Id(2)] Traffic Traffic,
    [property: Id(3)] long SeedingSeconds,
    [property: Id(4)] DateTimeOffset? CompletedAt,
    [property: Id(5)] DateTimeOffset LastAnnounceAt)
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
