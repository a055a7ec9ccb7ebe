using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// The cluster's recent history for the live status page (<c>GET /status</c>), kept in memory by one activation (key
/// 0): every silo and gateway reports what it measures every <c>Status:ReportInterval</c>, and the grain keeps one
/// point per interval, summed over the processes still reporting, for <c>Status:History</c>. Nothing is stored: if
/// the silo holding it stops, the history starts again on another silo.
/// </summary>
[Alias("Chihaya.IClusterStatusGrain")]
public interface IClusterStatusGrain : IGrainWithIntegerKey
{
    /// <summary>A silo's swarms, caches, checks and busiest swarms as of now.</summary>
    [Alias("ReportSilo")]
    ValueTask ReportSilo(SiloStatusReport report);

    /// <summary>A gateway's running totals of announces and scrapes by outcome.</summary>
    [Alias("ReportGateway")]
    ValueTask ReportGateway(GatewayStatusReport report);

    /// <summary>The history and each reporting process's latest report.</summary>
    [Alias("GetStatus")]
    ValueTask<ClusterStatus> GetStatus();
}
