using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Grains.Tests.Accounting;

public sealed class UsageLedgerTests
{
    private static readonly Traffic Ten = new(10, 10, 10, 10);
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static void Record(UsageLedger ledger, long userId, string userKey, Traffic traffic, bool snatched, long seeding = 0, DateTimeOffset? at = null) =>
        ledger.Record(userId, userKey, 7, new AnnounceOutcome(traffic, snatched, seeding), at ?? Now);

    [Fact]
    public void CutReports_UndeliveredReport_IsResentUnchangedBesideNewTraffic()
    {
        var ledger = new UsageLedger("t:x");
        Record(ledger, 1, "pk1", Ten, false);
        var first = ledger.CutReports();

        Record(ledger, 1, "pk1", Ten, false);
        var second = ledger.CutReports();

        Assert.Single(first);
        Assert.Equal(2, second.Count);
        Assert.Same(first[0].Report, second[0].Report);
        Assert.True(second[1].Report.Sequence > second[0].Report.Sequence);
    }

    [Fact]
    public void Delivered_Report_IsNotResent()
    {
        var ledger = new UsageLedger("t:x");
        Record(ledger, 1, "pk1", Ten, false);
        Record(ledger, 2, "pk2", Ten, false);
        foreach (var (_, report) in ledger.CutReports())
        {
            ledger.Delivered(report);
        }

        Assert.Empty(ledger.CutReports());
    }

    [Fact]
    public void CutTorrentWrite_FailedWrite_IsRetriedWithSameSequenceAndLaterTrafficWaits()
    {
        var ledger = new UsageLedger("t:x");
        Record(ledger, 1, "pk1", Ten, true);
        var failed = ledger.CutTorrentWrite(7, 0, 0)!;

        Record(ledger, 1, "pk1", Ten, false);
        var retried = ledger.CutTorrentWrite(7, 0, 0)!;
        ledger.Written(retried);
        var next = ledger.CutTorrentWrite(7, 0, 0)!;

        Assert.Same(failed, retried);
        Assert.Equal(1, failed.Torrents[0].Snatches);
        Assert.Equal(Ten, failed.Torrents[0].Traffic);
        Assert.Equal(Ten, next.Torrents[0].Traffic);
        Assert.Equal(0, next.Torrents[0].Snatches);
        Assert.True(next.Sequence > failed.Sequence);
    }

    [Fact]
    public void UnwrittenSnatches_CountsPendingAndOutstanding()
    {
        var ledger = new UsageLedger("t:x");
        Record(ledger, 1, "pk1", default, true);
        ledger.CutTorrentWrite(7, 0, 0);
        Record(ledger, 2, "pk2", default, true);

        Assert.Equal(2, ledger.UnwrittenSnatches);
    }

    [Fact]
    public async Task DeliverAsync_EarlierReportFails_LaterOnesWaitSoNothingIsDroppedAsDuplicate()
    {
        var ledger = new UsageLedger("t:x");
        var receiver = new HighWaterReceiver();
        Record(ledger, 1, "pk", Ten, false);
        ledger.CutReports();
        receiver.FailNext = true;
        await ledger.DeliverAsync(receiver.SendAsync, (_, _) => { });

        Record(ledger, 1, "pk", Ten, false);
        ledger.CutReports();
        receiver.FailNext = true;
        await ledger.DeliverAsync(receiver.SendAsync, (_, _) => { });
        await ledger.DeliverAsync(receiver.SendAsync, (_, _) => { });

        Assert.Equal(20, receiver.Total.RawUploaded);
        Assert.Empty(ledger.CutReports());
    }

    [Fact]
    public async Task DeliverAsync_OneUserFailing_DoesNotHoldBackOthers()
    {
        var ledger = new UsageLedger("t:x");
        var delivered = new List<string>();
        Record(ledger, 1, "broken", Ten, false);
        Record(ledger, 2, "fine", Ten, false);
        ledger.CutReports();

        await ledger.DeliverAsync(
            (userKey, _) => userKey == "broken" ? throw new TimeoutException() : Record(delivered, userKey),
            (_, _) => { });

        Assert.Equal(["fine"], delivered);
        Assert.Equal("broken", Assert.Single(ledger.CutReports()).UserKey);
    }

    private static Task Record(List<string> delivered, string userKey)
    {
        delivered.Add(userKey);
        return Task.CompletedTask;
    }

    /// <summary>A receiver that, like the user grain, drops a report not newer than the last from its source.</summary>
    private sealed class HighWaterReceiver
    {
        private readonly Dictionary<string, long> _last = [];

        public bool FailNext { get; set; }

        public Traffic Total { get; private set; }

        public Task SendAsync(string userKey, UsageReport report)
        {
            if (FailNext)
            {
                FailNext = false;
                throw new TimeoutException();
            }

            if (_last.GetValueOrDefault(report.Source) < report.Sequence)
            {
                _last[report.Source] = report.Sequence;
                Total += report.Traffic;
            }

            return Task.CompletedTask;
        }
    }

    [Fact]
    public void CutTorrentWrite_CarriesEachUsersHistoryAndTheSwarmSize()
    {
        var ledger = new UsageLedger("t:x");
        Record(ledger, 1, "pk1", Ten, false, seeding: 100, at: Now);
        Record(ledger, 1, "pk1", Ten, snatched: true, seeding: 50, at: Now.AddMinutes(30));
        Record(ledger, 2, "pk2", default, false, at: Now);

        var write = ledger.CutTorrentWrite(7, seeders: 3, leechers: 4)!;

        Assert.Equal((3, 4), (write.Torrents[0].Seeders, write.Torrents[0].Leechers));
        var first = write.History.Single(h => h.UserId == 1);
        Assert.Equal(Ten + Ten, first.Traffic);
        Assert.Equal(150, first.SeedingSeconds);
        Assert.Equal(Now.AddMinutes(30), first.CompletedAt);
        Assert.Equal(Now.AddMinutes(30), first.LastAnnounceAt);
        Assert.Null(write.History.Single(h => h.UserId == 2).CompletedAt);
    }

    [Fact]
    public void CutTorrentWrite_SwarmSizeChangedWithoutTraffic_StillWrites()
    {
        var ledger = new UsageLedger("t:x");
        ledger.Written(ledger.CutTorrentWrite(7, 1, 1)!);

        Assert.Null(ledger.CutTorrentWrite(7, 1, 1));
        Assert.NotNull(ledger.CutTorrentWrite(7, 0, 1));
    }

    [Fact]
    public void FromState_OfToState_ContinuesWithTheSameOutstandingReportsAndSequence()
    {
        var ledger = new UsageLedger("t:x");
        Record(ledger, 1, "pk1", Ten, snatched: true);
        var cut = ledger.CutReports();
        Record(ledger, 2, "pk2", Ten, false);

        var restored = UsageLedger.FromState(ledger.ToState());
        Record(ledger, 3, "pk3", Ten, false);   // the copy must not see accounting after it was taken
        var resent = restored.CutReports();

        Assert.Equal(cut[0].Report, resent[0].Report);
        Assert.Equal(2, resent.Count);
        Assert.True(resent[1].Report.Sequence > cut[0].Report.Sequence);
        Assert.Equal(1, restored.UnwrittenSnatches);
    }
}
