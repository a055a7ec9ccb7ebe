using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Health;

/// <summary>
/// Liveness and readiness, the same on gateways and silos, for load balancers, Kubernetes probes and
/// <c>deploy/local/cluster.sh status</c>.
/// </summary>
public static class HealthEndpoints
{
    /// <summary>Liveness: answers while the process serves HTTP at all. A wedged process does not answer, and is restarted.</summary>
    public const string LivenessPath = "/healthz";

    /// <summary>Readiness: 200 when every check passes, 503 otherwise; the JSON body says what each check found.</summary>
    public const string ReadinessPath = "/readyz";

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(LivenessPath, () => Results.Json(new { status = "alive" }));
        endpoints.MapGet(ReadinessPath, async (ReadinessProbe probe) =>
        {
            var report = await probe.CheckAsync();
            return Results.Json(report, statusCode: report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }

    /// <summary>Readiness for a process hosting a silo: active in the cluster, and the database answering when the site is in one.</summary>
    public static IServiceCollection AddSiloReadiness(this IServiceCollection services, bool siteInDatabase)
    {
        services.AddSingleton<IReadinessCheck, ClusterMembershipCheck>();
        services.AddSingleton<IReadinessCheck, SwarmsHeldReport>();
        if (siteInDatabase)
        {
            services.AddSingleton<IReadinessCheck, DatabaseCheck>();
        }

        services.AddSingleton<ReadinessProbe>();
        return services;
    }

    /// <summary>Readiness for a gateway of silos elsewhere: some silo answers through the cluster.</summary>
    public static IServiceCollection AddClusterClientReadiness(this IServiceCollection services)
    {
        services.AddSingleton<IReadinessCheck, SiloReachableCheck>();
        services.AddSingleton<ReadinessProbe>();
        return services;
    }
}
