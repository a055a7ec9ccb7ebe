using System.Collections.Immutable;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Options;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>The cluster's status (what the status page shows) as silos and gateways report to it.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterStatusTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Interval = new StatusOptions().ReportInterval;

    [Fact]
    public async Task ProcessesWhoseClocksAreOff_ShowWhileTheyReport_AndGoOnceTheyStop()
    {
        var status = fixture.Grains.GetGrain<IClusterStatusGrain>(0);
        var clock = ClusterFixture.Clock;
        var suffix = Guid.NewGuid().ToString("N");
        // Clocks ten minutes off either way, as a host whose time service failed: well past three intervals.
        var slow = TimeSpan.FromMinutes(-10);
        var fast = TimeSpan.FromMinutes(10);

        await status.ReportSilo(SiloReport("slow-silo-" + suffix, clock.GetUtcNow() + slow));
        await status.ReportSilo(SiloReport("fast-silo-" + suffix, clock.GetUtcNow() + fast));
        await status.ReportGateway(GatewayReport("slow-gateway-" + suffix, clock.GetUtcNow() + slow));
        await status.ReportGateway(GatewayReport("fast-gateway-" + suffix, clock.GetUtcNow() + fast));
        var whileReporting = await status.GetStatus();
        // Then they stop reporting for more than three intervals.
        clock.Advance((3 * Interval) + TimeSpan.FromSeconds(1));
        var onceStopped = await status.GetStatus();

        string[] silos = ["slow-silo-" + suffix, "fast-silo-" + suffix];
        string[] gateways = ["slow-gateway-" + suffix, "fast-gateway-" + suffix];
        Assert.All(silos, silo => Assert.Contains(silo, whileReporting.Silos.Keys));
        Assert.All(gateways, gateway => Assert.Contains(gateway, whileReporting.Gateways.Keys));
        Assert.All(silos, silo => Assert.DoesNotContain(silo, onceStopped.Silos.Keys));
        Assert.All(gateways, gateway => Assert.DoesNotContain(gateway, onceStopped.Gateways.Keys));
    }

    private static SiloStatusReport SiloReport(string silo, DateTimeOffset at) =>
        new(silo, at, 1, 1, 0, 0, 0, 0, ImmutableDictionary<string, StatusCheck>.Empty, ImmutableDictionary<string, SwarmSize>.Empty);

    private static GatewayStatusReport GatewayReport(string gateway, DateTimeOffset at) =>
        new(gateway, at, ImmutableDictionary<string, long>.Empty, ImmutableDictionary<string, long>.Empty);
}
