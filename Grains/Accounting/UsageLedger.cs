using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>
/// A swarm's traffic not yet handed on: per user (to be reported to that user's grain) and for the torrent
/// itself. Reports cut from it stay outstanding until delivered, and a retry resends the same report with
/// the same sequence, so the receiver can drop duplicates.
/// </summary>
internal sealed class UsageLedger(string source)
{
    private readonly Dictionary<long, (string UserKey, Traffic Traffic)> _pendingByUser = [];
    private readonly Dictionary<long, UserTorrentUsage> _pendingHistory = [];
    // Unknown until the first write, so a new activation always corrects counts a crash left behind.
    private (int Seeders, int Leechers) _writtenCounts = (-1, -1);
    private readonly List<(string UserKey, UsageReport Report)> _outstanding = [];
    private long _sequence;
    private UsageWrite? _outstandingWrite;

    public Traffic TorrentTraffic { get; private set; }

    public long TorrentSnatches { get; private set; }

    public bool IsEmpty => _pendingByUser.Count == 0 && _pendingHistory.Count == 0 && _outstanding.Count == 0
        && _outstandingWrite is null && TorrentTraffic.IsZero && TorrentSnatches == 0;

    /// <summary>Accounts one accepted announce of <paramref name="userId"/> on torrent <paramref name="torrentId"/>.</summary>
    public void Record(long userId, string userKey, long torrentId, Torrents.AnnounceOutcome outcome, DateTimeOffset now)
    {
        var traffic = outcome.Traffic;
        if (outcome.Snatched)
        {
            TorrentSnatches++;
        }

        var entry = new UserTorrentUsage(userId, torrentId, traffic, outcome.SeedingSeconds, outcome.Snatched ? now : null, now);
        _pendingHistory[userId] = _pendingHistory.TryGetValue(userId, out var earlier) ? earlier.Then(entry) : entry;
        if (traffic.IsZero)
        {
            return;
        }

        TorrentTraffic += traffic;
        var current = _pendingByUser.GetValueOrDefault(userId).Traffic;
        _pendingByUser[userId] = (userKey, current + traffic);
    }

    /// <summary>Every report to deliver now: earlier undelivered ones first, then one per user with new traffic.</summary>
    public IReadOnlyList<(string UserKey, UsageReport Report)> CutReports()
    {
        foreach (var (userId, (userKey, traffic)) in _pendingByUser)
        {
            _outstanding.Add((userKey, new UsageReport(source, ++_sequence, userId, traffic)));
        }

        _pendingByUser.Clear();
        return [.. _outstanding];
    }

    /// <summary>
    /// Cuts reports and delivers them: users in parallel, each user's reports oldest first, stopping at a
    /// user's first failure. The receiver keeps a high-water mark per source, so a later report must never
    /// overtake an earlier one; what fails stays outstanding and is resent, unchanged, next time.
    /// </summary>
    public Task DeliverAsync(Func<string, UsageReport, Task> send, Action<UsageReport, Exception> failed)
    {
        var byUser = CutReports().GroupBy(pending => pending.UserKey);
        return Task.WhenAll(byUser.Select(async reports =>
        {
            foreach (var (userKey, report) in reports)
            {
                try
                {
                    await send(userKey, report);
                    Delivered(report);
                }
                catch (Exception exception)
                {
                    failed(report, exception);
                    return;
                }
            }
        }));
    }

    /// <summary>Marks a report delivered.</summary>
    public void Delivered(UsageReport report) => _outstanding.RemoveAll(pending => ReferenceEquals(pending.Report, report));

    /// <summary>
    /// The torrent's own statistics to write to the site (its totals, its swarm's size, its users' history
    /// rows): the write still outstanding from an earlier flush, or a new one with everything accounted
    /// since; null when there is nothing new.
    /// </summary>
    public UsageWrite? CutTorrentWrite(long torrentId, int seeders, int leechers)
    {
        var countsChanged = (seeders, leechers) != _writtenCounts;
        if (_outstandingWrite is null && (!TorrentTraffic.IsZero || TorrentSnatches != 0 || _pendingHistory.Count > 0 || countsChanged))
        {
            _outstandingWrite = new UsageWrite(
                source,
                ++_sequence,
                [],
                [new TorrentUsage(torrentId, TorrentTraffic, TorrentSnatches, seeders, leechers)],
                [.. _pendingHistory.Values]);
            TorrentTraffic = default;
            TorrentSnatches = 0;
            _pendingHistory.Clear();
        }

        return _outstandingWrite;
    }

    /// <summary>Marks the outstanding torrent write applied.</summary>
    public void Written(UsageWrite write)
    {
        if (ReferenceEquals(_outstandingWrite, write))
        {
            _outstandingWrite = null;
            var torrent = write.Torrents[0];
            _writtenCounts = (torrent.Seeders, torrent.Leechers);
        }
    }

    /// <summary>Snatches accounted but not yet written to the site.</summary>
    public long UnwrittenSnatches => TorrentSnatches + (_outstandingWrite?.Torrents.Sum(t => t.Snatches) ?? 0);
}
