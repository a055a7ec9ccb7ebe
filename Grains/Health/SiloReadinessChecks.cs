using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Torrents;
using Npgsql;

namespace Chihaya.Orleans.Grains.Health;

/// <summary>Ready once this silo is an active member of the cluster: before that, and after it leaves, it takes no grains.</summary>
internal sealed class ClusterMembershipCheck(IClusterMembershipService membership, ILocalSiloDetails silo) : IReadinessCheck
{
    public string Name => "cluster";

    public Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var snapshot = membership.CurrentSnapshot;
        var status = snapshot.GetSiloStatus(silo.SiloAddress);
        var active = snapshot.Members.Values.Count(member => member.Status == SiloStatus.Active);
        return Task.FromResult(status == SiloStatus.Active
            ? CheckResult.Pass($"silo {silo.SiloAddress} active in cluster {silo.ClusterId} ({active} active silos)")
            : CheckResult.Fail($"silo {silo.SiloAddress} is {status} in cluster {silo.ClusterId}, not active"));
    }
}

/// <summary>
/// Not a condition (always passes): how many swarms this silo holds, so an operator scaling silos sees new ones take
/// swarms and old ones hand theirs on, in <c>/readyz</c> and <c>deploy/local/cluster.sh status</c>.
/// </summary>
internal sealed class SwarmsHeldReport(SwarmSweeper swarms) : IReadinessCheck
{
    public string Name => "swarms";

    public Task<CheckResult> CheckAsync(CancellationToken cancellationToken) =>
        Task.FromResult(CheckResult.Pass($"{swarms.Count} swarms active on this silo"));
}

/// <summary>Ready while the site's database answers: without it no swarm can be restored and no statistics written.</summary>
internal sealed class DatabaseCheck(NpgsqlDataSource dataSource) : IReadinessCheck
{
    public string Name => "database";

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return CheckResult.Pass("PostgreSQL answers");
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            // The message names the server and the failure, never the password (Npgsql leaves it out).
            return CheckResult.Fail($"PostgreSQL does not answer: {exception.Message}");
        }
    }
}

/// <summary>
/// For a gateway of silos elsewhere: ready while some silo answers a call through the cluster client, the path every
/// announce takes.
/// </summary>
public sealed class SiloReachableCheck(IGrainFactory grains) : IReadinessCheck
{
    public string Name => "silos";

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            var silo = await grains.GetGrain<IHealthProbeGrain>(0).Probe().AsTask().WaitAsync(cancellationToken);
            return CheckResult.Pass($"silo {silo} answers");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return CheckResult.Fail($"no silo answers: {exception.GetType().Name}: {exception.Message}");
        }
    }
}
