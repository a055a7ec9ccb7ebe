using System.Diagnostics.Metrics;
using Chihaya.Orleans.Grains.Metrics;
using Microsoft.Extensions.DependencyInjection;
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
}
