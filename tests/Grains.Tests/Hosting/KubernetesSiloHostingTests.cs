using System.Net;
using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting.Kubernetes;

namespace Chihaya.Orleans.Grains.Tests.Hosting;

/// <summary>
/// <c>Cluster:Kubernetes</c> adds Orleans' Kubernetes hosting without letting it change what our settings say: the
/// cluster and service ids and the advertised address stay ours, and settings it would fight are refused at start.
/// </summary>
public sealed class KubernetesSiloHostingTests
{
    private static TrackerClusterOptions KubernetesCluster() => new()
    {
        Kubernetes = true,
        Membership = ClusterMemberships.Redis,
        Redis = "127.0.0.1:1",
        ClusterId = "tracker-cluster",
        ServiceId = "tracker-service",
        AdvertisedAddress = "10.1.2.3",
    };

    [Fact]
    public void KubernetesHosting_OurIdsAndAddressWin_AndDeadSilosPodsAreDeleted()
    {
        var cluster = KubernetesCluster();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo.UseTrackerSilo(cluster, new ConfigurationBuilder().Build()));
        using var host = builder.Build();

        // The hosting reads ORLEANS_CLUSTER_ID when the options are first asked for; set only for that moment (no
        // other test turns the Kubernetes hosting on, so none reads it).
        ClusterOptions clusterOptions;
        Environment.SetEnvironmentVariable(KubernetesHostingOptions.ClusterIdEnvironmentVariable, "another-cluster");
        try
        {
            clusterOptions = host.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        }
        finally
        {
            Environment.SetEnvironmentVariable(KubernetesHostingOptions.ClusterIdEnvironmentVariable, null);
        }

        Assert.Equal(("tracker-cluster", "tracker-service"), (clusterOptions.ClusterId, clusterOptions.ServiceId));
        var endpoints = host.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
        Assert.Equal(IPAddress.Parse("10.1.2.3"), endpoints.AdvertisedIPAddress);
        // Listening on the pod IP alone, not on any address as the hosting would have it: the cluster ports call grains
        // with no token.
        Assert.Equal((new IPEndPoint(IPAddress.Parse("10.1.2.3"), cluster.SiloPort), new IPEndPoint(IPAddress.Parse("10.1.2.3"), cluster.GatewayPort)), (endpoints.SiloListeningEndpoint, endpoints.GatewayListeningEndpoint));
        // The hosting is really in: its options carry the setting we chose (read without validation, which wants a pod).
        var kubernetes = new KubernetesHostingOptions();
        foreach (var configure in host.Services.GetServices<IConfigureOptions<KubernetesHostingOptions>>().OfType<IConfigureNamedOptions<KubernetesHostingOptions>>())
        {
            configure.Configure(Options.DefaultName, kubernetes);
        }

        // Off: Orleans would delete a restarted container's pod, and with it the healthy silo now running there.
        Assert.False(kubernetes.DeleteDefunctSiloPods);
    }

    [Fact]
    public void KubernetesHosting_IdFromOrleansVariableThatDiffers_Refused()
    {
        var environment = new Dictionary<string, string?> { [KubernetesHostingOptions.ClusterIdEnvironmentVariable] = "another-cluster" };

        var problem = Assert.Throws<StartupProblemException>(() => KubernetesSiloHosting.CheckSettings(KubernetesCluster(), name => environment.GetValueOrDefault(name)));

        Assert.Contains("ORLEANS_CLUSTER_ID=another-cluster differs from Cluster:ClusterId=tracker-cluster", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KubernetesHosting_SameIdInOrleansVariable_Accepted()
    {
        var environment = new Dictionary<string, string?> { [KubernetesHostingOptions.ServiceIdEnvironmentVariable] = "tracker-service" };

        KubernetesSiloHosting.CheckSettings(KubernetesCluster(), name => environment.GetValueOrDefault(name));
    }

    [Fact]
    public void KubernetesHosting_WithLocalhostMembership_Refused()
    {
        var cluster = KubernetesCluster();
        cluster.Membership = ClusterMemberships.Localhost;

        var problem = Assert.Throws<StartupProblemException>(() => KubernetesSiloHosting.CheckSettings(cluster, _ => null));

        Assert.Contains("Cluster:Kubernetes needs Cluster:Membership=Redis", problem.Message, StringComparison.Ordinal);
    }
}
