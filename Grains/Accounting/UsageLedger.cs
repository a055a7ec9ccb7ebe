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
    private readonly List<(string UserKey, UsageReport Report)> _outstanding = [];
    private long _sequence;
    private UsageWrite? _outstandingWrite;

    public Traffic TorrentTraffic { get; private set; }

    public long TorrentSnatches { get; private set; }

    public bool IsEmpty => _pendingByUser.Count == 0 && _outstanding.Count == 0 && _outstandingWrite is null && TorrentTraffic.IsZero && TorrentSnatches == 0;

    /// <summary>Accounts one announce's outcome for the user who made it.</summary>
    public void Record(long userId, string userKey, Traffic traffic, bool snatched)
    {
        if (snatched)
        {
            TorrentSnatches++;
        }

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
    /// The torrent's own statistics to write to the site: the write still outstanding from an earlier
    /// flush, or a new one with everything accounted since; null when there is nothing to write.
    /// </summary>
    public UsageWrite? CutTorrentWrite(long torrentId)
    {
        if (_outstandingWrite is null && (!TorrentTraffic.IsZero || TorrentSnatches != 0))
        {
            _outstandingWrite = new UsageWrite(source, ++_sequence, [], [new TorrentUsage(torrentId, TorrentTraffic, TorrentSnatches)]);
            TorrentTraffic = default;
            TorrentSnatches = 0;
        }

        return _outstandingWrite;
    }

    /// <summary>Marks the outstanding torrent write applied.</summary>
    public void Written(UsageWrite write)
    {
        if (ReferenceEquals(_outstandingWrite, write))
        {
            _outstandingWrite = null;
        }
    }

    /// <summary>Snatches accounted but not yet written to the site.</summary>
    public long UnwrittenSnatches => TorrentSnatches + (_outstandingWrite?.Torrents.Sum(t => t.Snatches) ?? 0);
}
