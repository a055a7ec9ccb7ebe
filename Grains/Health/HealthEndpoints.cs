using System.Net;
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

    /// <summary>
    /// Readiness: 200 when every check passes, 503 otherwise; the JSON body says what each check found, to a request from
    /// this host.
    /// </summary>
    public const string ReadinessPath = "/readyz";

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(LivenessPath, () => Results.Json(new { status = "alive" }));
        endpoints.MapGet(ReadinessPath, async (HttpContext context, ReadinessProbe probe) =>
        {
            var report = await probe.CheckAsync();
            // What each check found (silo addresses, cluster ids, the database's error text) is the operator's: shown to
            // a request from this host (cluster.sh status, kubectl port-forward or exec), not to one from elsewhere
            // or through a proxy, which gets the verdict alone (all that probes and load balancers read).
            var shown = IsFromThisHost(context.Request) ? report : report with { Checks = [] };
            return Results.Json(shown, statusCode: report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }

    private static bool IsFromThisHost(HttpRequest request) =>
        request.HttpContext.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)
        && !request.Headers.ContainsKey("X-Forwarded-For") && !request.Headers.ContainsKey("X-Real-IP") && !request.Headers.ContainsKey("Forwarded");

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
