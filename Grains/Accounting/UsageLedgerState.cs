using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;

namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>A <see cref="UsageLedger"/> as grain storage keeps it: everything accounted and not yet confirmed delivered.</summary>
[GenerateSerializer, Alias("Chihaya.UsageLedgerState")]
internal sealed class UsageLedgerState
{
    [Id(0)] public string Source { get; set; } = "";

    [Id(1)] public long Sequence { get; set; }

    [Id(2)] public Dictionary<long, PendingUserTraffic> PendingByUser { get; set; } = [];

    [Id(3)] public Dictionary<long, UserTorrentUsage> PendingHistory { get; set; } = [];

    [Id(4)] public List<OutstandingReport> Outstanding { get; set; } = [];

    [Id(5)] public UsageWrite? OutstandingWrite { get; set; }

    [Id(6)] public Traffic TorrentTraffic { get; set; }

    [Id(7)] public long TorrentSnatches { get; set; }

    [Id(8)] public int WrittenSeeders { get; set; } = -1;

    [Id(9)] public int WrittenLeechers { get; set; } = -1;
}

/// <summary>A user's traffic waiting to be reported to its user grain.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.PendingUserTraffic")]
internal readonly record struct PendingUserTraffic([property: Id(0)] string UserKey, [property: Id(1)] Traffic Traffic);

/// <summary>A report cut and not yet confirmed by its user grain.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.OutstandingReport")]
internal sealed record OutstandingReport([property: Id(0)] string UserKey, [property: Id(1)] UsageReport Report);
