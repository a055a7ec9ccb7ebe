using Chihaya.Orleans.Grains.Interfaces;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// When a swarm next has housekeeping to do (write what changed, prune silent peers, re-read its torrent, forget an
/// unknown info hash), published by its grain for the silo's <see cref="SwarmSweeper"/>. An idle swarm costs the
/// silo a comparison per sweep instead of grain timers firing; the sweeper calls <see cref="ITorrentGrain.Sweep"/>
/// only when something is due. Written in the grain's turns, read by the sweeper's thread.
/// </summary>
internal sealed class SwarmSchedule(ITorrentGrain grain)
{
    private long _dueAt = long.MaxValue;

    public ITorrentGrain Grain { get; } = grain;

    /// <summary>The earliest time anything is due, in Unix milliseconds; <see cref="long.MaxValue"/>: nothing is.</summary>
    public long DueAt
    {
        get => Volatile.Read(ref _dueAt);
        set => Volatile.Write(ref _dueAt, value);
    }
}
