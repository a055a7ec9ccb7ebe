using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>
/// A swarm's statistics accounted since its last flush was cut: per user, per user on this torrent (history
/// rows) and for the torrent itself. It lives only in memory, beside the peers it was credited from: a flush
/// takes both at once, and if the activation dies first both are forgotten together, so the peers' next
/// announces credit the same traffic again from the baselines the site still holds.
/// </summary>
internal sealed class SwarmLedger
{
    // Cleared after each cut, not made anew: an active swarm needs them again within a flush interval, and new ones
    // each time would live just long enough to reach the oldest generation (measured: p99 latency 5 ms -> 20 ms).
    private readonly Dictionary<long, Traffic> _users = [];
    private readonly Dictionary<long, UserTorrentUsage> _history = [];
    private Traffic _torrentTraffic;
    private long _snatches;
    private long _firstRecordedAt = long.MaxValue;

    /// <summary>True when no announce was accounted since the last cut (every accepted announce adds a history entry).</summary>
    public bool IsEmpty => _history.Count == 0;

    /// <summary>When the first announce since the last cut was accounted (Unix ms); <see cref="long.MaxValue"/> while empty.</summary>
    public long FirstRecordedAt => _firstRecordedAt;

    /// <summary>Raw bytes (uploaded and downloaded) accounted since the last cut.</summary>
    public long RawBytes => _torrentTraffic.RawUploaded + _torrentTraffic.RawDownloaded;

    /// <summary>Snatches accounted since the last cut, shown until a flush brings the site's own count.</summary>
    public long Snatches => _snatches;

    /// <summary>Accounts one accepted announce of <paramref name="userId"/> on torrent <paramref name="torrentId"/>.</summary>
    public void Record(long userId, long torrentId, AnnounceCredit credit, DateTimeOffset now)
    {
        var traffic = credit.Traffic;
        if (credit.Snatched)
        {
            _snatches++;
        }

        if (_firstRecordedAt == long.MaxValue)
        {
            _firstRecordedAt = now.ToUnixTimeMilliseconds();
        }

        var entry = new UserTorrentUsage(userId, torrentId, traffic, credit.SeedingSeconds, credit.Snatched ? now : null, now);
        _history[userId] = _history.TryGetValue(userId, out var earlier) ? earlier.Then(entry) : entry;
        if (!traffic.IsZero)
        {
            _torrentTraffic += traffic;
            _users[userId] = _users.GetValueOrDefault(userId) + traffic;
        }
    }

    /// <summary>
    /// A flush of everything accounted since the last cut together with the peer changes it was credited from,
    /// and an empty ledger for what comes next.
    /// </summary>
    public SwarmFlush Cut(long torrentId, long epoch, long sequence, PeerChanges peers, int seeders, int leechers)
    {
        var flush = new SwarmFlush(
            torrentId,
            epoch,
            sequence,
            peers,
            UsersToList(),
            new TorrentUsage(torrentId, _torrentTraffic, _snatches, seeders, leechers),
            [.. _history.Values]);
        _users.Clear();
        _history.Clear();
        _torrentTraffic = default;
        _snatches = 0;
        _firstRecordedAt = long.MaxValue;
        return flush;
    }

    // Sized up front: a flush of a big swarm carries thousands of users.
    private List<UserUsage> UsersToList()
    {
        var users = new List<UserUsage>(_users.Count);
        foreach (var (userId, traffic) in _users)
        {
            users.Add(new UserUsage(userId, traffic));
        }

        return users;
    }
}
