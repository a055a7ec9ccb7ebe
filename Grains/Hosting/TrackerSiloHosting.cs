using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using Orleans.Messaging;
using Chihaya.Orleans.Grains.Status;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>The silo set-up shared by the Silo host and the embedded gateway.</summary>
public static class TrackerSiloHosting
{
    /// <summary>The shortest <see cref="TrackerClusterOptions.ResponseTimeout"/>: above the longest a call waits for the site (4.5 s).</summary>
    internal static readonly TimeSpan MinimumResponseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Reads the "Cluster" section now, because Orleans is wired before the host is built.</summary>
    public static TrackerClusterOptions ReadClusterOptions(IConfiguration configuration)
    {
        var options = configuration.GetSection(TrackerClusterOptions.Section).Get<TrackerClusterOptions>(binder => binder.ErrorOnUnknownConfiguration = true)
            ?? new TrackerClusterOptions();
        if (ClusterMemberships.IsRedis(options.Membership) && string.IsNullOrWhiteSpace(options.Redis))
        {
            throw new StartupProblemException("Cluster:Membership is Redis but Cluster:Redis (the Redis connection) is empty.");
        }

        if (!ClusterMemberships.IsRedis(options.Membership) && !options.Membership.Equals(ClusterMemberships.Localhost, StringComparison.OrdinalIgnoreCase))
        {
            throw new StartupProblemException($"Cluster:Membership must be Localhost or Redis, not '{options.Membership}'.");
        }

        CheckValues(options);
        KubernetesSiloHosting.CheckSettings(options, Environment.GetEnvironmentVariable);
        return options;
    }

    // A port, address or timeout Orleans would refuse only once it starts, with its own stack trace.
    private static void CheckValues(TrackerClusterOptions options)
    {
        const string section = TrackerClusterOptions.Section;
        static bool IsPort(int port) => port is > 0 and <= IPEndPoint.MaxPort;
        if (!IsPort(options.SiloPort))
        {
            throw new StartupProblemException($"{section}:{nameof(options.SiloPort)} must be a port between 1 and 65535, not {options.SiloPort}.");
        }

        if (!IsPort(options.GatewayPort))
        {
            throw new StartupProblemException($"{section}:{nameof(options.GatewayPort)} must be a port between 1 and 65535, not {options.GatewayPort}.");
        }

        foreach (var port in options.LocalSiloGatewayPorts.Where(port => !IsPort(port)))
        {
            throw new StartupProblemException($"{section}:{nameof(options.LocalSiloGatewayPorts)} must be ports between 1 and 65535, not {port}.");
        }

        // A call may wait for the site: a swarm's first read of its torrent up to 1.5 s, then the user's up to 3 s. A
        // shorter timeout takes such a wait for a silo gone, and the gateway calls again, and waits again, for
        // Gateway:ClusterRetryFor instead of answering "unavailable".
        if (options.ResponseTimeout < MinimumResponseTimeout || options.ResponseTimeout > TimeSpan.FromMinutes(5))
        {
            throw new StartupProblemException(
                $"{section}:{nameof(options.ResponseTimeout)} must be between {MinimumResponseTimeout:c} and 00:05:00 (a call may wait 4.5 s for the site's database), not {options.ResponseTimeout:c}.");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId) || string.IsNullOrWhiteSpace(options.ServiceId))
        {
            throw new StartupProblemException($"{section}:{nameof(options.ClusterId)} and {section}:{nameof(options.ServiceId)} may not be empty.");
        }

        if (!string.IsNullOrWhiteSpace(options.AdvertisedAddress) && !IPAddress.TryParse(options.AdvertisedAddress, out _))
        {
            throw new StartupProblemException($"{section}:{nameof(options.AdvertisedAddress)} must be an IP address, not '{options.AdvertisedAddress}'.");
        }
    }

    /// <summary>A silo with the tracker's grains, clustered on this host's loopback or through Redis.</summary>
    public static ISiloBuilder UseTrackerSilo(this ISiloBuilder silo, TrackerClusterOptions cluster, IConfiguration configuration)
    {
        // First, so that the cluster id, service id and endpoints configured below override what it would set.
        silo.UseKubernetesHostingWhenEnabled(cluster);
        if (ClusterMemberships.IsRedis(cluster.Membership))
        {
            silo.UseRedisClustering(options => options.ConfigurationOptions = cluster.ReadRedisConfiguration());
            RestoreLostMembership(silo.Services);
            // On the advertised address alone, not every address of the host: whoever reaches these ports can call any
            // grain, the admin grain too, with no token (cluster.sh's silos stay on loopback; on Kubernetes, the pod IP
            // and a NetworkPolicy). Set explicitly: left unset, Orleans' Kubernetes hosting fills them with any address.
            var address = AdvertisedAddress(cluster);
            silo.ConfigureEndpoints(address, cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
            silo.Configure<EndpointOptions>(options =>
            {
                options.SiloListeningEndpoint = new IPEndPoint(address, cluster.SiloPort);
                options.GatewayListeningEndpoint = new IPEndPoint(address, cluster.GatewayPort);
            });
        }
        else
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort);
        }

        silo.Configure<ClusterOptions>(options =>
        {
            options.ClusterId = cluster.ClusterId;
            options.ServiceId = cluster.ServiceId;
        });

        // With a 10 s heartbeat, the entry of a silo killed with kill -9 stops counting after 30 s, so a lone
        // replacement can start (Orleans' default is 30 s, so 90 s). Probes every 2 s (adaptive, 1 to 8 s) declare
        // a killed silo dead within a few seconds; missed-probe and vote limits stay at their defaults, which keep
        // a busy silo from being declared dead.
        silo.Configure<ClusterMembershipOptions>(options =>
        {
            options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
            options.NumMissedTableIAmAliveLimit = 3;
            options.ProbeTimeout = TimeSpan.FromSeconds(2);
        });

        // The default grain directory drops a stopping silo's part of the directory at once, so during a graceful
        // stop or rolling restart a swarm can be activated elsewhere while its old activation is still flushing;
        // the new claim then fences that final flush. The distributed directory hands its part on and keeps old
        // entries valid until the silo's grains have deactivated, so a new activation follows the old one's flush.
        // (Experimental in Orleans 10; switch a whole cluster at once.) After a crash, its range lease would keep a
        // dead silo's grains unavailable for a while to prevent duplicates; the swarms' claims make duplicates
        // harmless, so it is off.
#pragma warning disable ORLEANSEXP003
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        silo.Configure<GrainDirectoryOptions>(options => options.RangeLeaseDuration = TimeSpan.Zero);

        // Kubernetes gives a pod 30 s after SIGTERM: a grain gets 10 s to deactivate (a silo's swarms write their final
        // flushes together, up to four transactions at once), the host 20 s to stop, and ShutdownDeadline ends the
        // process at 26 s whatever still hangs.
        silo.Configure<GrainCollectionOptions>(options => options.DeactivationTimeout = TimeSpan.FromSeconds(10));
        silo.Configure<HostOptions>(options => options.ShutdownTimeout = ShutdownDeadline.HostStopTimeout);
        silo.Services.AddSiloStatusReporting(cluster);
        return silo.AddTrackerGrains(configuration);
    }

    /// <summary>A gateway's Orleans client for the silos of <paramref name="cluster"/>.</summary>
    public static IClientBuilder UseTrackerCluster(this IClientBuilder client, TrackerClusterOptions cluster)
    {
        if (ClusterMemberships.IsRedis(cluster.Membership))
        {
            client.UseRedisClustering(options => options.ConfigurationOptions = cluster.ReadRedisConfiguration());
            // Instead of Orleans' RedisGatewayListProvider, which would write Version 0 into an emptied Redis and take
            // whatever table it reads, however old.
            client.Services.Replace(ServiceDescriptor.Singleton<IGatewayListProvider>(provider => new VersionCheckedGatewayListProvider(
                provider.GetRequiredService<IMembershipTable>(),
                provider.GetRequiredService<IOptions<GatewayOptions>>(),
                provider.GetService<TimeProvider>() ?? TimeProvider.System)));
        }
        else
        {
            var ports = cluster.LocalSiloGatewayPorts.Length > 0 ? cluster.LocalSiloGatewayPorts : [cluster.GatewayPort];
            client.UseStaticClustering([.. ports.Select(port => new IPEndPoint(IPAddress.Loopback, port))]);
        }

        client.Configure<ClusterOptions>(options =>
        {
            options.ClusterId = cluster.ClusterId;
            options.ServiceId = cluster.ServiceId;
        });
        // A dead silo must cost an announce a few seconds, not the default 30 (clients simply retry).
        client.Configure<ClientMessagingOptions>(options => options.ResponseTimeout = cluster.ResponseTimeout);
        client.Configure<GatewayOptions>(options => options.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        return client;
    }

    /// <summary>
    /// Puts <see cref="RestoringMembershipTable"/> around the membership table that UseRedisClustering registered,
    /// which Orleans still creates as it registered it.
    /// </summary>
    internal static void RestoreLostMembership(IServiceCollection services)
    {
        var redisTable = services.LastOrDefault(service => service.ServiceType == typeof(IMembershipTable))
            ?? throw new InvalidOperationException("UseRedisClustering registered no IMembershipTable: Orleans' Redis clustering has changed.");
        services.Remove(redisTable);
        services.AddSingleton<IMembershipTable>(provider => new RestoringMembershipTable(
            (IMembershipTable)(redisTable.ImplementationInstance
                ?? redisTable.ImplementationFactory?.Invoke(provider)
                ?? ActivatorUtilities.CreateInstance(provider, redisTable.ImplementationType!)),
            provider.GetRequiredService<IOptions<RedisClusteringOptions>>().Value,
            provider.GetRequiredService<IOptions<ClusterOptions>>().Value,
            provider.GetRequiredService<ILogger<RestoringMembershipTable>>()));
    }

    /// <summary>The address a silo's cluster ports listen on: the advertised one with Redis membership, else loopback.</summary>
    internal static IPAddress ListenAddress(TrackerClusterOptions cluster) =>
        ClusterMemberships.IsRedis(cluster.Membership) ? AdvertisedAddress(cluster) : IPAddress.Loopback;

    private static IPAddress AdvertisedAddress(TrackerClusterOptions cluster)
    {
        if (!string.IsNullOrWhiteSpace(cluster.AdvertisedAddress))
        {
            return IPAddress.Parse(cluster.AdvertisedAddress);
        }

        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(nic => nic.OperationalStatus == OperationalStatus.Up && nic.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses)
            .Select(unicast => unicast.Address)
            .FirstOrDefault(address => address.AddressFamily == AddressFamily.InterNetwork)
            ?? IPAddress.Loopback;
    }
}
