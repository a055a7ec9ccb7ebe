using System.Diagnostics.Metrics;
using Chihaya.Orleans.Grains.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Chihaya.Orleans.Grains.Tests.Metrics;

public sealed class MetricsEndpointTests
{
    [Fact]
    public void OrleansPerMessageSizeHistograms_AreNotRecordedAtAll_WhileItsOtherInstrumentsAre()
    {
        var services = new ServiceCollection();
        services.AddTrackerMetrics();
        using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<MeterProvider>();

        // Instruments of the names Orleans gives them, made after the provider as Orleans' are.
        using var meter = new Meter("Microsoft.Orleans");
        var sent = meter.CreateHistogram<int>("orleans-messaging-sent-messages-size", "bytes");
        var received = meter.CreateHistogram<int>("orleans-messaging-received-messages-size", "bytes");
        var latency = meter.CreateHistogram<double>("orleans-app-requests-latency");
        var rejected = meter.CreateCounter<int>("orleans-messaging-rejected");

        // Not enabled, so Orleans skips the recording (and the tags it would build for it), not only the export.
        Assert.False(sent.Enabled);
        Assert.False(received.Enabled);
        Assert.True(latency.Enabled);
        Assert.True(rejected.Enabled);
    }

    [Fact]
    public void AnInstrumentWithMoreSeriesThanItsLimit_KeepsCountingThePastTheLimitOnesInItsOverflowSeries()
    {
        var exported = new List<Metric>();
        var services = new ServiceCollection();
        services.AddTrackerMetrics();
        using var reader = new BaseExportingMetricReader(new CollectingExporter(exported));
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddReader(reader));
        using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<MeterProvider>();

        using var meter = new Meter(TrackerMeter.Name);
        var counter = meter.CreateCounter<long>("chihaya.test.tagged");
        const int Series = MetricsEndpoint.SeriesPerInstrument + 50;
        for (var value = 0; value < Series; value++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("value", value));
        }

        // This reader alone: the Prometheus exporter's reader exports only when scraped.
        Assert.True(reader.Collect());
        var points = new List<(bool Overflow, long Sum)>();
        foreach (ref readonly var point in exported.Single(metric => metric.Name == "chihaya.test.tagged").GetMetricPoints())
        {
            var overflow = false;
            foreach (var tag in point.Tags)
            {
                overflow |= tag.Key == "otel.metric.overflow";
            }

            points.Add((overflow, point.GetSumLong()));
        }

        // Every measurement is still counted, and the series kept are bounded (so is the memory the stream allocates).
        Assert.Equal(Series, points.Sum(point => point.Sum));
        Assert.True(points.Count <= MetricsEndpoint.SeriesPerInstrument + 1, $"{points.Count} series exported");
        Assert.Contains(points, point => point.Overflow);
    }

    private sealed class CollectingExporter(List<Metric> exported) : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch)
        {
            foreach (var metric in batch)
            {
                exported.Add(metric);
            }

            return ExportResult.Success;
        }
    }
}
