using Microsoft.Extensions.Configuration;
using Orleans.Configuration;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>The silo set-up shared by the Silo host and the embedded gateway.</summary>
public static class TrackerSiloHosting
{
    /// <summary>Reads the "Cluster" section now, because Orleans is wired before the host is built.</summary>
    public static TrackerClusterOptions ReadClusterOptions(IConfiguration configuration) =>
        configuration.GetSection(TrackerClusterOptions.Section).Get<TrackerClusterOptions>(binder => binder.ErrorOnUnknownConfiguration = true)
        ?? new TrackerClusterOptions();

    /// <summary>A silo on this host's loopback clustering with the tracker's grains.</summary>
    public static ISiloBuilder UseTrackerSilo(this ISiloBuilder silo, TrackerClusterOptions cluster, IConfiguration configuration)
    {
        silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort);
        silo.Configure<ClusterOptions>(options =>
        {
            options.ClusterId = cluster.ClusterId;
            options.ServiceId = cluster.ServiceId;
        });
        return silo.AddTrackerGrains(configuration);
    }
}
