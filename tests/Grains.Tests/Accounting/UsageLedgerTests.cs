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
}
