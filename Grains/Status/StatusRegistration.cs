using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Status;

/// <summary>The live status page's reporting, on silos and gateways.</summary>
public static class StatusRegistration
{
    /// <summary>The "Status" section; registered once even when a gateway and an embedded silo share one service collection.</summary>
    public static IServiceCollection AddStatusOptions(this IServiceCollection services)
    {
        if (services.Any(descriptor => descriptor.ServiceType == typeof(IValidateOptions<StatusOptions>)))
        {
            return services;
        }

        services.AddTrackerSection<StatusOptions>(StatusOptions.Section)
            .Validate(o => o.ReportInterval >= TimeSpan.FromMilliseconds(100) && o.ReportInterval <= TimeSpan.FromMinutes(1), "Status:ReportInterval must be between 00:00:00.1 and 00:01:00.")
            .Validate(o => o.History >= o.ReportInterval && o.History <= TimeSpan.FromHours(6), "Status:History must be at least Status:ReportInterval and at most 06:00:00.");
        return services;
    }

    /// <summary>A silo reports to the cluster's status; with Redis membership, it also says whether Redis answers.</summary>
    internal static IServiceCollection AddSiloStatusReporting(this IServiceCollection services, TrackerClusterOptions cluster)
    {
        services.AddStatusOptions();
        if (ClusterMemberships.IsRedis(cluster.Membership))
        {
            services.AddSingleton(_ => new RedisPing(cluster));
        }

        services.AddHostedService<SiloStatusReporter>();
        return services;
    }
}
