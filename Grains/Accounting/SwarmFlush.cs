using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>
/// One swarm's write to the site: the peers whose baselines changed and the statistics credited from exactly
/// those changes, applied together or not at all. A user's traffic to add is the sum of its history rows' traffic,
/// so the store derives it from <see cref="History"/> rather than being sent it twice. <see cref="Epoch"/> fences
/// the flush: the store applies it only while the swarm's claim is still this activation's, so a stale or duplicate
/// activation can never write. A write whose answer was lost is resent unchanged; <see cref="Sequence"/> (one per
/// epoch, consecutive) makes the store apply it once.
/// </summary>
internal sealed record SwarmFlush(
    long TorrentId,
    long Epoch,
    long Sequence,
    PeerChanges Peers,
    TorrentUsage Torrent,
    IReadOnlyList<HistoryRow> History);

/// <summary>
/// What to add to a user's history row of the flush's torrent (the stored row is found by the user and the torrent).
/// </summary>
internal readonly record struct HistoryRow(long UserId, UsageTotals Totals);

/// <summary>
/// Peers to store as they are now, peers that left (remembered for a while), and peers and departures to forget: peers
/// pruned as silent, departures forgotten in time, and the departures of peers that joined again. The store deletes
/// what it holds of a forgotten key before it stores the present peers.
/// </summary>
internal sealed record PeerChanges(IReadOnlyList<StoredPeer> Present, IReadOnlyList<DepartedPeer> Departed, IReadOnlyList<PeerKey> Forgotten)
{
    public bool IsEmpty => Present.Count == 0 && Departed.Count == 0 && Forgotten.Count == 0;
}

/// <summary>
/// A peer that stopped: when the gateway received its goodbye (Unix microseconds, orders it against late tries of
/// its earlier announces) and when the swarm took it (seconds since the Unix epoch, for forgetting it).
/// </summary>
internal readonly record struct DepartedPeer(PeerKey Key, long ReceivedAt, long DepartedAt);

/// <summary>A peer as the site's peers table holds it: its last credited totals, role and whether it has snatched.</summary>
internal readonly record struct StoredPeer(PeerEntry Entry, bool Seeder);

/// <summary>A swarm taken over by one activation: the epoch that fences every older one, and the peers and departures stored so far.</summary>
internal sealed record SwarmClaim(long Epoch, IReadOnlyList<StoredPeer> Peers, IReadOnlyList<DepartedPeer> Departures);

/// <summary>What the store did with one <see cref="SwarmFlush"/>.</summary>
internal enum FlushStatus
{
    /// <summary>Written now, or by an earlier try whose answer was lost.</summary>
    Applied,

    /// <summary>Another activation has claimed the swarm since: nothing was written, and this activation must go.</summary>
    Fenced,
}

/// <summary>The store's answer to one flush, with the snatches it counted (a snatch is counted once per user and torrent).</summary>
internal readonly record struct FlushResult(FlushStatus Status, long SnatchesCounted = 0)
{
    public static FlushResult Fenced => new(FlushStatus.Fenced);
}

/// <summary>Traffic to add to one user's totals: the sum of the user's <see cref="HistoryRow"/>s in a write.</summary>
internal readonly record struct UserUsage(long UserId, Traffic Traffic);

/// <summary>
/// Traffic to add to one torrent's totals, and its swarm's size now. <see cref="Snatches"/> is the swarm's own
/// count, which it shows until the flush is written; the store counts snatches from the history rows instead.
/// </summary>
internal readonly record struct TorrentUsage(long TorrentId, Traffic Traffic, long Snatches, int Seeders, int Leechers);

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
    DateTimeOffset LastAnnounceAt);

/// <summary>
/// A history row's figures without its key, in 56 bytes instead of a <see cref="UserTorrentUsage"/>'s 96: what the
/// ledger holds per user between flushes, a flush sends per user and the in-memory site holds per user and torrent, so
/// tables with an entry per peer stay small. Times are UTC ticks; 0 is no completion.
/// </summary>
internal readonly record struct UsageTotals(Traffic Traffic, long SeedingSeconds, long CompletedAtTicks, long LastAnnounceAtTicks)
{
    public static UsageTotals From(in UserTorrentUsage usage) => new(
        usage.Traffic,
        usage.SeedingSeconds,
        usage.CompletedAt?.UtcTicks ?? 0,
        usage.LastAnnounceAt.UtcTicks);

    /// <summary>
    /// These figures followed by later ones of the same user and torrent: traffic and seeding time add up, the
    /// completion is the first one, the last announce the latest.
    /// </summary>
    public UsageTotals Then(in UsageTotals later) => new(
        Traffic + later.Traffic,
        SeedingSeconds + later.SeedingSeconds,
        CompletedAtTicks != 0 ? CompletedAtTicks : later.CompletedAtTicks,
        Math.Max(LastAnnounceAtTicks, later.LastAnnounceAtTicks));

    /// <summary>When the download completed, as a UTC time (only when <see cref="CompletedAtTicks"/> is not 0).</summary>
    public DateTime CompletedAtUtc => new(CompletedAtTicks, DateTimeKind.Utc);

    public DateTime LastAnnounceAtUtc => new(LastAnnounceAtTicks, DateTimeKind.Utc);

    public UserTorrentUsage ToUsage(long userId, long torrentId) => new(
        userId,
        torrentId,
        Traffic,
        SeedingSeconds,
        CompletedAtTicks == 0 ? null : new DateTimeOffset(CompletedAtTicks, TimeSpan.Zero),
        new DateTimeOffset(LastAnnounceAtTicks, TimeSpan.Zero));
}
