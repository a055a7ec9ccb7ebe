using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Chihaya.Orleans.Grains.Metrics;

/// <summary>
/// <c>GET /metrics</c> in Prometheus' text format, on every gateway (its client port) and silo (its HTTP port), through
/// OpenTelemetry's Prometheus exporter: the tracker's own meter (<c>chihaya_*</c>), Orleans' (<c>orleans_*</c>), ASP.NET
/// Core's and Kestrel's (<c>http_server_*</c>, <c>kestrel_*</c>) and the .NET runtime's (<c>dotnet_*</c>: GC, memory,
/// CPU, thread pool). No label carries a passkey, a user or an info hash.
/// </summary>
public static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>The meters exported.</summary>
    public static readonly string[] Meters =
    [
        TrackerMeter.Name,
        "Microsoft.Orleans",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Runtime",
    ];

    public static IServiceCollection AddTrackerMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(Meters).AddPrometheusExporter());
        return services;
    }

    public static IEndpointRouteBuilder MapMetricsEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}

/// <summary>The tracker's own meter; every instrument's name starts with <c>chihaya.</c>.</summary>
public static class TrackerMeter
{
    public const string Name = "Chihaya.Orleans";
}
