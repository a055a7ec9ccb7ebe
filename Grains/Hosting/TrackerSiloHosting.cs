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

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>The silo set-up shared by the Silo host and the embedded gateway.</summary>
public static class TrackerSiloHosting
{
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

        return options;
    }

    /// <summary>A silo with the tracker's grains, clustered on this host's loopback or through Redis.</summary>
    public static ISiloBuilder UseTrackerSilo(this ISiloBuilder silo, TrackerClusterOptions cluster, IConfiguration configuration)
    {
        if (ClusterMemberships.IsRedis(cluster.Membership))
        {
            silo.UseRedisClustering(cluster.Redis);
            RestoreLostMembership(silo.Services);
            silo.ConfigureEndpoints(AdvertisedAddress(cluster), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: true);
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

        // Orleans' default heartbeat (5 min) lets a silo killed with kill -9 block new silos from starting for
        // about 10 minutes, which is an outage when it was the only one. With a 10 s heartbeat, an entry silent
        // for 30 s no longer counts.
        silo.Configure<ClusterMembershipOptions>(options =>
        {
            options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
            options.NumMissedTableIAmAliveLimit = 3;
        });
        return silo.AddTrackerGrains(configuration);
    }

    /// <summary>A gateway's Orleans client for the silos of <paramref name="cluster"/>.</summary>
    public static IClientBuilder UseTrackerCluster(this IClientBuilder client, TrackerClusterOptions cluster)
    {
        if (ClusterMemberships.IsRedis(cluster.Membership))
        {
            client.UseRedisClustering(cluster.Redis);
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
