using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>
/// A swarm's traffic not yet handed on: per user (to be reported to that user's grain), per user on this
/// torrent (history rows) and for the torrent itself. Reports and writes cut from it stay outstanding until
/// confirmed, and a retry resends them unchanged with the same sequence, so receivers can drop duplicates.
/// Its whole content is a <see cref="UsageLedgerState"/>, which the torrent grain persists with its peers.
/// </summary>
internal sealed class UsageLedger
{
    private readonly UsageLedgerState _state;

    public UsageLedger(string source) => _state = new UsageLedgerState { Source = source };

    private UsageLedger(UsageLedgerState state) => _state = state;

    public bool IsEmpty => _state.PendingByUser.Count == 0 && _state.PendingHistory.Count == 0 && _state.Outstanding.Count == 0
        && _state.OutstandingWrite is null && _state.TorrentTraffic.IsZero && _state.TorrentSnatches == 0;

    /// <summary>The name under which this ledger's reports and writes go out.</summary>
    public string Source => _state.Source;

    /// <summary>True once a report or write has been cut under <see cref="Source"/>, so a receiver may know it.</summary>
    public bool HasSent => _state.Sequence > 0;

    /// <summary>Snatches accounted but not yet written to the site.</summary>
    public long UnwrittenSnatches => _state.TorrentSnatches + (_state.OutstandingWrite?.Torrents.Sum(t => t.Snatches) ?? 0);

    /// <summary>A ledger continuing where a persisted one stopped.</summary>
    public static UsageLedger FromState(UsageLedgerState state) => new(state);

    /// <summary>A copy of the ledger's content for grain storage, unaffected by later accounting.</summary>
    public UsageLedgerState ToState() => new()
    {
        Source = _state.Source,
        Sequence = _state.Sequence,
        PendingByUser = new(_state.PendingByUser),
        PendingHistory = new(_state.PendingHistory),
        Outstanding = [.. _state.Outstanding],
        OutstandingWrite = _state.OutstandingWrite,
        TorrentTraffic = _state.TorrentTraffic,
        TorrentSnatches = _state.TorrentSnatches,
        WrittenSeeders = _state.WrittenSeeders,
        WrittenLeechers = _state.WrittenLeechers,
    };

    /// <summary>Accounts one accepted announce of <paramref name="userId"/> on torrent <paramref name="torrentId"/>.</summary>
    public void Record(long userId, string userKey, long torrentId, AnnounceOutcome outcome, DateTimeOffset now)
    {
        var traffic = outcome.Traffic;
        if (outcome.Snatched)
        {
            _state.TorrentSnatches++;
        }

        var entry = new UserTorrentUsage(userId, torrentId, traffic, outcome.SeedingSeconds, outcome.Snatched ? now : null, now);
        _state.PendingHistory[userId] = _state.PendingHistory.TryGetValue(userId, out var earlier) ? earlier.Then(entry) : entry;
        if (traffic.IsZero)
        {
            return;
        }

        _state.TorrentTraffic += traffic;
        var current = _state.PendingByUser.GetValueOrDefault(userId).Traffic;
        _state.PendingByUser[userId] = new PendingUserTraffic(userKey, current + traffic);
    }

    /// <summary>Every report to deliver now: earlier undelivered ones first, then one per user with new traffic.</summary>
    public IReadOnlyList<OutstandingReport> CutReports()
    {
        foreach (var (userId, (userKey, traffic)) in _state.PendingByUser)
        {
            _state.Outstanding.Add(new OutstandingReport(userKey, new UsageReport(_state.Source, ++_state.Sequence, userId, traffic)));
        }

        _state.PendingByUser.Clear();
        return [.. _state.Outstanding];
    }

    /// <summary>
    /// Delivers the reports already cut: users in parallel, each user's reports oldest first, stopping at a
    /// user's first failure. The receiver keeps a high-water mark per source, so a later report must never
    /// overtake an earlier one; what fails stays outstanding and is resent, unchanged, next time.
    /// </summary>
    public Task DeliverAsync(Func<string, UsageReport, Task> send, Action<UsageReport, Exception> failed)
    {
        var byUser = _state.Outstanding.ToList().GroupBy(pending => pending.UserKey);
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
    public void Delivered(UsageReport report) => _state.Outstanding.RemoveAll(pending => ReferenceEquals(pending.Report, report));

    /// <summary>
    /// The torrent's own statistics to write to the site (its totals, its swarm's size, its users' history
    /// rows): the write still outstanding from an earlier flush, or a new one with everything accounted
    /// since; null when there is nothing new.
    /// </summary>
    public UsageWrite? CutTorrentWrite(long torrentId, int seeders, int leechers)
    {
        var countsChanged = seeders != _state.WrittenSeeders || leechers != _state.WrittenLeechers;
        if (_state.OutstandingWrite is null
            && (!_state.TorrentTraffic.IsZero || _state.TorrentSnatches != 0 || _state.PendingHistory.Count > 0 || countsChanged))
        {
            _state.OutstandingWrite = new UsageWrite(
                _state.Source,
                ++_state.Sequence,
                [],
                [new TorrentUsage(torrentId, _state.TorrentTraffic, _state.TorrentSnatches, seeders, leechers)],
                [.. _state.PendingHistory.Values]);
            _state.TorrentTraffic = default;
            _state.TorrentSnatches = 0;
            _state.PendingHistory.Clear();
        }

        return _state.OutstandingWrite;
    }

    /// <summary>Marks the outstanding torrent write applied.</summary>
    public void Written(UsageWrite write)
    {
        if (ReferenceEquals(_state.OutstandingWrite, write))
        {
            _state.OutstandingWrite = null;
            _state.WrittenSeeders = write.Torrents[0].Seeders;
            _state.WrittenLeechers = write.Torrents[0].Leechers;
        }
    }
}
