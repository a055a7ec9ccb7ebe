using System.Collections.Immutable;
using Chihaya.Orleans.Grains.Health;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.Grains.Users;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Status;

/// <summary>
/// Every <see cref="StatusOptions.ReportInterval"/>, tells the cluster's status (<see cref="IClusterStatusGrain"/>) what
/// this silo holds: its swarms summed, its cached users, its readiness checks (the database's among them), Redis when
/// membership is there, and its busiest swarms.
/// </summary>
internal sealed class SiloStatusReporter(
    IGrainFactory grains,
    ILocalSiloDetails silo,
    SiloMetrics metrics,
    SwarmSweeper sweeper,
    UserDirectory users,
    ReadinessProbe readiness,
    IOptions<StatusOptions> options,
    TimeProvider time,
    ILogger<SiloStatusReporter> logger,
    RedisPing? redis = null) : PeriodicStatusReporter(options, time, logger)
{
    /// <summary>How many of its busiest swarms a silo reports.</summary>
    public const int BusiestCount = 5;

    protected override async Task ReportAsync(CancellationToken cancellationToken) =>
        await grains.GetGrain<IClusterStatusGrain>(0).ReportSilo(await MeasureAsync(cancellationToken));

    public async Task<SiloStatusReport> MeasureAsync(CancellationToken cancellationToken)
    {
        var totals = metrics.Totals();
        var report = await readiness.CheckAsync();
        var checks = report.Checks.ToImmutableDictionary(entry => entry.Name, entry => new StatusCheck(entry.Ok, entry.Detail));
        if (redis is not null)
        {
            checks = checks.SetItem(RedisPing.Name, await redis.CheckAsync(cancellationToken));
        }

        var busiest = sweeper.Busiest(BusiestCount)
            .Where(swarm => swarm.Seeders + swarm.Leechers > 0)
            .ToImmutableDictionary(swarm => swarm.InfoHash.ToString(), swarm => new SwarmSize(swarm.Seeders, swarm.Leechers));
        return new SiloStatusReport(
            silo.SiloAddress.ToParsableString(),
            Time.GetUtcNow(),
            totals.Swarms,
            totals.Seeders,
            totals.Leechers,
            totals.UnwrittenBytes,
            totals.OldestUnwrittenAge,
            users.Count,
            checks,
            busiest);
    }
}
