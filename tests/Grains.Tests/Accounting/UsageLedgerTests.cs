using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Tests.Accounting;

public sealed class UsageLedgerTests
{
    private static readonly Traffic Ten = new(10, 10, 10, 10);

    [Fact]
    public void CutReports_UndeliveredReport_IsResentUnchangedBesideNewTraffic()
    {
        var ledger = new UsageLedger("t:x");
        ledger.Record(1, "pk1", Ten, false);
        var first = ledger.CutReports();

        ledger.Record(1, "pk1", Ten, false);
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
        ledger.Record(1, "pk1", Ten, false);
        ledger.Record(2, "pk2", Ten, false);
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
        ledger.Record(1, "pk1", Ten, snatched: true);
        var failed = ledger.CutTorrentWrite(7)!;

        ledger.Record(1, "pk1", Ten, false);
        var retried = ledger.CutTorrentWrite(7)!;
        ledger.Written(retried);
        var next = ledger.CutTorrentWrite(7)!;

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
        ledger.Record(1, "pk1", default, snatched: true);
        ledger.CutTorrentWrite(7);
        ledger.Record(2, "pk2", default, snatched: true);

        Assert.Equal(2, ledger.UnwrittenSnatches);
    }

    [Fact]
    public async Task DeliverAsync_EarlierReportFails_LaterOnesWaitSoNothingIsDroppedAsDuplicate()
    {
        var ledger = new UsageLedger("t:x");
        var receiver = new HighWaterReceiver();
        ledger.Record(1, "pk", Ten, false);
        receiver.FailNext = true;
        await ledger.DeliverAsync(receiver.SendAsync, (_, _) => { });

        ledger.Record(1, "pk", Ten, false);
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
        ledger.Record(1, "broken", Ten, false);
        ledger.Record(2, "fine", Ten, false);

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
}
