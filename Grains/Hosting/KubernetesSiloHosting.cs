using Orleans.Hosting.Kubernetes;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// Orleans' Kubernetes hosting (<c>Cluster:Kubernetes</c>), with our settings in charge. What it does: names the silo
/// after its pod (POD_NAME), labels the pod with the cluster and service ids, declares dead a silo whose pod was
/// deleted, and deletes the pod of a silo the cluster declared dead. What it would also do, and why it does not here:
/// <list type="bullet">
/// <item>Cluster and service ids from ORLEANS_CLUSTER_ID / ORLEANS_SERVICE_ID: <c>Cluster:ClusterId</c> and
/// <c>Cluster:ServiceId</c> are configured after it and win; a different value in those variables is refused at start,
/// so the gateways (which read only our settings) never look for another cluster.</item>
/// <item>Advertised address from POD_IP and listening on any address: only where nothing set them, and
/// <see cref="TrackerSiloHosting.UseTrackerSilo"/> always sets both (<c>Cluster:AdvertisedAddress</c>, the pod IP in the
/// manifests).</item>
/// </list>
/// Membership stays in Redis: this watches pods, it is not a membership table.
/// </summary>
public static class KubernetesSiloHosting
{
    /// <summary>Refuses settings that would make the Kubernetes hosting fight ours or do nothing useful.</summary>
    public static void CheckSettings(TrackerClusterOptions cluster, Func<string, string?> environment)
    {
        if (!cluster.Kubernetes)
        {
            return;
        }

        if (!ClusterMemberships.IsRedis(cluster.Membership))
        {
            throw new StartupProblemException("Cluster:Kubernetes needs Cluster:Membership=Redis: localhost clustering is one machine, not a set of pods.");
        }

        foreach (var (variable, setting, value) in new[]
        {
            (KubernetesHostingOptions.ClusterIdEnvironmentVariable, nameof(TrackerClusterOptions.ClusterId), cluster.ClusterId),
            (KubernetesHostingOptions.ServiceIdEnvironmentVariable, nameof(TrackerClusterOptions.ServiceId), cluster.ServiceId),
        })
        {
            var fromEnvironment = environment(variable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment) && !string.Equals(fromEnvironment, value, StringComparison.Ordinal))
            {
                throw new StartupProblemException(
                    $"{variable}={fromEnvironment} differs from Cluster:{setting}={value}; Cluster:{setting} is the one used (gateways read it too): set only Cluster__{setting}.");
            }
        }
    }

    /// <summary>Adds Orleans' Kubernetes hosting when <c>Cluster:Kubernetes</c> is on; call before the cluster options are configured.</summary>
    public static ISiloBuilder UseKubernetesHostingWhenEnabled(this ISiloBuilder silo, TrackerClusterOptions cluster)
    {
        if (!cluster.Kubernetes)
        {
            return silo;
        }

        // Off, and set rather than left to the package's default (which has changed between versions): Orleans deletes
        // the pod by the dead silo's name without looking at which silo runs in it now, so a container restarted in
        // place (liveness, out of memory) would have its new, healthy silo's pod deleted, and its swarms handed over
        // twice. A frozen silo's container is restarted by its liveness probe instead; one declared dead stops itself.
        return silo.UseKubernetesHosting(options => options.Configure(kubernetes => kubernetes.DeleteDefunctSiloPods = false));
    }
}
