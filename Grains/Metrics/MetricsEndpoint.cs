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

    /// <summary>
    /// Orleans' histograms of every message's size, recorded for each message a process sends or receives (so four
    /// times per announce between a gateway and a silo), each with two or three tags (the remote silo when known): up
    /// to 9 % of the production shape's throughput in the bench (bench/README.md, 2026-11-28 08:40). Orleans' other
    /// messaging instruments (header bytes; failed, dropped and rejected messages) and its grain-call latency stay.
    /// </summary>
    public static readonly string[] NotExported =
    [
        "orleans-messaging-sent-messages-size",
        "orleans-messaging-received-messages-size",
    ];

    /// <summary>
    /// Series (tag combinations) each instrument may have. OpenTelemetry allocates every stream's points up front, 2,000
    /// by default: about 18 MB in each process for the 127 streams exported, whatever they hold. The most any
    /// instrument has is a few dozen (Orleans' activation counts, one per grain and system-target type; HTTP durations,
    /// one per route, method and status), so 200 leaves room; past it, measurements still count, in the stream's
    /// overflow series (<c>otel_metric_overflow="true"</c>), not lost.
    /// </summary>
    public const int SeriesPerInstrument = 200;

    public static IServiceCollection AddTrackerMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(Meters);
            // One view for every instrument: an instrument that several views match gets a stream per view. Dropped by
            // its view, an instrument is not enabled, so Orleans skips recording it altogether.
            metrics.AddView(instrument => NotExported.Contains(instrument.Name)
                ? MetricStreamConfiguration.Drop
                : new MetricStreamConfiguration { CardinalityLimit = SeriesPerInstrument });
            metrics.AddPrometheusExporter();
        });
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
