using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// What a swarm publishes for the rest of its silo: when it next has housekeeping to do (write what changed, prune
/// silent peers, re-read its torrent, forget an unknown info hash), for the silo's <see cref="SwarmSweeper"/>, and its
/// size and unwritten statistics, for the silo's metrics and status. An idle swarm costs the silo a comparison per
/// sweep instead of grain timers firing; the sweeper calls <see cref="ITorrentGrain.Sweep"/> only when something is
/// due. Written in the grain's turns, read by other threads: each value on its own is current, not all together.
/// </summary>
internal sealed class SwarmSchedule(ITorrentGrain grain, InfoHash infoHash)
{
    // While the sweeper holds the swarm, its due time lives in the sweeper's page at Index, so a tick reads due times
    // from a few dense arrays instead of following a pointer per swarm; before and after, it lives in _dueAt. Only the
    // swarm's own turns write it, and place or remove it, so the two never race.
    private long[]? _page;
    private long _dueAt = long.MaxValue;
    private int _seeders;
    private int _leechers;
    private long _unwrittenSince = long.MaxValue;
    private long _unwrittenBytes;
    private bool _hasUnwritten;

    public ITorrentGrain Grain { get; } = grain;

    public InfoHash InfoHash { get; } = infoHash;

    /// <summary>The earliest time anything is due, in Unix milliseconds; <see cref="long.MaxValue"/>: nothing is.</summary>
    public long DueAt
    {
        get => _page is { } page ? Volatile.Read(ref page[Index]) : Volatile.Read(ref _dueAt);
        set
        {
            if (_page is { } page)
            {
                Volatile.Write(ref page[Index], value);
            }
            else
            {
                Volatile.Write(ref _dueAt, value);
            }
        }
    }

    /// <summary>The sweeper's slot for this swarm; -1 while it holds none.</summary>
    public int Slot { get; private set; } = -1;

    private int Index => Slot % SwarmSweeper.PageSize;

    /// <summary>Moves the due time into the sweeper's <paramref name="page"/>, the one of slot <paramref name="slot"/>; a null page moves it back.</summary>
    public void Place(long[]? page, int slot)
    {
        var due = DueAt;
        (_page, Slot) = page is null ? (null, -1) : (page, slot);
        if (page is null)
        {
            Volatile.Write(ref _dueAt, due);
        }
        else
        {
            Volatile.Write(ref page[Index], due);
        }
    }

    public int Seeders => Volatile.Read(ref _seeders);

    public int Leechers => Volatile.Read(ref _leechers);

    /// <summary>When the oldest announce whose statistics are not yet in the database was accounted (Unix ms); <see cref="long.MaxValue"/>: none.</summary>
    public long UnwrittenSince => Volatile.Read(ref _unwrittenSince);

    /// <summary>Raw bytes (uploaded and downloaded, as clients reported them) accounted but not yet in the database.</summary>
    public long UnwrittenBytes => Volatile.Read(ref _unwrittenBytes);

    public void PublishSize(int seeders, int leechers)
    {
        Volatile.Write(ref _seeders, seeders);
        Volatile.Write(ref _leechers, leechers);
    }

    /// <summary>Something the site does not have yet: accounted announces, peers pruned or restored, the swarm's size.</summary>
    public bool HasUnwritten => Volatile.Read(ref _hasUnwritten);

    public void PublishUnwritten(long since, long bytes, bool anything)
    {
        Volatile.Write(ref _unwrittenSince, since);
        Volatile.Write(ref _unwrittenBytes, bytes);
        Volatile.Write(ref _hasUnwritten, anything);
    }
}
