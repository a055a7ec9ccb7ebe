using System.Collections.Immutable;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Status;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Status;

/// <summary>
/// Every <see cref="StatusOptions.ReportInterval"/>, tells the cluster's status this gateway's running totals of announces
/// and scrapes by outcome; the status grain turns two reports into rates.
/// </summary>
internal sealed class GatewayStatusReporter(
    IGrainFactory grains,
    GatewayMetrics metrics,
    IOptions<StatusOptions> options,
    TimeProvider time,
    ILogger<GatewayStatusReporter> logger) : PeriodicStatusReporter(options, time, logger)
{
    private static readonly RequestOutcome[] Outcomes = Enum.GetValues<RequestOutcome>();

    /// <summary>This gateway's name in the status: host and process id, unique while it runs.</summary>
    public static string Name { get; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    protected override async Task ReportAsync(CancellationToken cancellationToken) =>
        await grains.GetGrain<IClusterStatusGrain>(0).ReportGateway(Measure());

    private GatewayStatusReport Measure() =>
        new(Name, Time.GetUtcNow(), ByLabel(metrics.AnnounceTotals()), ByLabel(metrics.ScrapeTotals()));

    private static ImmutableDictionary<string, long> ByLabel(long[] totals) =>
        Outcomes.ToImmutableDictionary(GatewayMetrics.Label, outcome => totals[(int)outcome]);
}
