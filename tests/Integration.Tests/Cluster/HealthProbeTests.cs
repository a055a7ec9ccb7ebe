using System.Text.Json;
using Chihaya.Orleans.Integration.Tests.Faults;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// <c>/healthz</c> and <c>/readyz</c> on real gateway and silo processes, as nginx, Kubernetes and
/// <c>deploy/local/cluster.sh status</c> read them: ready means the process can do its work, and the body says why not.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class HealthProbeTests
{
    [Fact]
    public async Task ClusterUp_GatewayAndSiloAreAliveAndReady_WithWhatEachCheckFound()
    {
        await using var cluster = await ProcessCluster.StartAsync(silos: 1);
        var gatewayPort = cluster.Http.BaseAddress!.Port;

        using var alive = await cluster.Http.GetAsync("/healthz");
        Assert.Equal("alive", JsonDocument.Parse(await alive.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());

        var (gatewayStatus, gateway) = await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(gatewayPort), r => r.Status == 200);
        Assert.Equal(200, gatewayStatus);
        Assert.Equal("ready", gateway.RootElement.GetProperty("status").GetString());
        Assert.True(Check(gateway, "silos").GetProperty("ok").GetBoolean());

        var (siloStatus, silo) = await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(cluster.SiloHttpPorts[0]), r => r.Status == 200);
        Assert.Equal(200, siloStatus);
        Assert.Contains("active", Check(silo, "cluster").GetProperty("detail").GetString());
        Assert.True(Check(silo, "database").GetProperty("ok").GetBoolean());
        Assert.Contains("swarms active on this silo", Check(silo, "swarms").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task EverySiloGone_GatewayIsAliveButNotReady_UntilASiloIsBack()
    {
        await using var cluster = await ProcessCluster.StartAsync(silos: 1);
        var gatewayPort = cluster.Http.BaseAddress!.Port;
        Assert.Equal(200, (await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(gatewayPort), r => r.Status == 200)).Status);

        Assert.True(await cluster.Silos[0].StopAsync(TimeSpan.FromSeconds(30)), cluster.Logs);

        var (status, report) = await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(gatewayPort), r => r.Status == 503);
        Assert.Equal(503, status);
        Assert.Equal("not ready", report.RootElement.GetProperty("status").GetString());
        var silos = Check(report, "silos");
        Assert.False(silos.GetProperty("ok").GetBoolean());
        Assert.StartsWith("no silo answers", silos.GetProperty("detail").GetString());
        using (var alive = await cluster.Http.GetAsync("/healthz"))
        {
            Assert.True(alive.IsSuccessStatusCode);
        }

        await cluster.StartSiloAsync();
        var (back, _) = await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(gatewayPort), r => r.Status == 200, TimeSpan.FromSeconds(60));
        Assert.Equal(200, back);
    }

    [Fact]
    public async Task DatabaseStopped_SiloIsNotReady_AndSaysSo_ThenReadyAgain()
    {
        await using var services = await PrivateServices.StartAsync();
        await using var cluster = await ProcessCluster.StartAsync(silos: 1, postgresServer: services.PostgresServer, redis: services.Redis);
        var siloPort = cluster.SiloHttpPorts[0];
        Assert.Equal(200, (await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(siloPort), r => r.Status == 200)).Status);

        await services.StopPostgresAsync();

        var (status, report) = await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(siloPort), r => r.Status == 503);
        Assert.Equal(503, status);
        var database = Check(report, "database");
        Assert.False(database.GetProperty("ok").GetBoolean());
        Assert.StartsWith("PostgreSQL does not answer", database.GetProperty("detail").GetString());
        Assert.True(Check(report, "cluster").GetProperty("ok").GetBoolean());

        await services.RestartStoppedAsync();
        var (back, _) = await Eventually.ValueAsync(() => ProcessCluster.ReadinessAsync(siloPort), r => r.Status == 200);
        Assert.Equal(200, back);
    }

    [Fact]
    public async Task EmbeddedTracker_IsReady_WithItsOwnSilo()
    {
        await using var host = await TrackerHost.StartAsync();

        using var response = await host.Http.GetAsync("/readyz");
        var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(200, (int)response.StatusCode);
        Assert.True(Check(report, "cluster").GetProperty("ok").GetBoolean());
        // Through a proxy (or from another host) the verdict alone: what the checks found names silo addresses, cluster
        // ids and the database's errors.
        using var proxied = new HttpRequestMessage(HttpMethod.Get, "/readyz");
        proxied.Headers.Add("X-Forwarded-For", "198.51.100.7");
        using var fromElsewhere = await host.Http.SendAsync(proxied);
        var verdict = JsonDocument.Parse(await fromElsewhere.Content.ReadAsStringAsync());
        Assert.Equal(200, (int)fromElsewhere.StatusCode);
        Assert.Equal("ready", verdict.RootElement.GetProperty("status").GetString());
        Assert.Empty(verdict.RootElement.GetProperty("checks").EnumerateArray());
        Assert.DoesNotContain("database", report.RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task EmbeddedTracker_OnADualStackSocket_ShowsWhatTheChecksFound_ToThisHostsIPv4Loopback()
    {
        // Listening on [::], an IPv4 client is seen as ::ffff:127.0.0.1, which is this host all the same.
        await using var host = await TrackerHost.StartAsync(host: "[::]");
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.BaseAddress.Port}") };

        using var response = await client.GetAsync("/readyz");
        var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(200, (int)response.StatusCode);
        Assert.True(Check(report, "cluster").GetProperty("ok").GetBoolean());
    }

    private static JsonElement Check(JsonDocument report, string name) =>
        report.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
}
