using System.Net.Http.Json;
using Chihaya.Orleans.Integration.Tests.Cluster;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Observability;

/// <summary>
/// A real Prometheus server scrapes a gateway process and a silo process; after a known set of announces and scrapes,
/// what it stored says exactly what happened: each outcome counted, peers and swarms in the silo's gauges, nothing
/// left unwritten, the database's writes and the notice probes timed, Orleans' and the runtime's meters present.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class PrometheusMetricsTests
{
    [Fact]
    public async Task KnownAnnounces_AreWhatPrometheusStores()
    {
        await using var cluster = await ProcessCluster.StartAsync(silos: 1);
        var passkey = TrackerFixture.NewPasskey();
        (await cluster.Admin.PutAsJsonAsync($"/admin/users/{passkey}", new { id = 1, uploadMultiplier = 1, downloadMultiplier = 1, canLeech = true })).EnsureSuccessStatusCode();
        var hash = UrlBytes.Random20();
        (await cluster.Admin.PutAsJsonAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}", new { id = 1, status = "active", uploadMultiplier = 1, downloadMultiplier = 1 })).EnsureSuccessStatusCode();

        // Three peers join (one seeder), one of them announces again with traffic; then one of each refusal.
        var seeder = new Announcer(passkey, hash, UrlBytes.Random20(), 7001);
        // Tried again while the gateway is still connecting to the cluster: every answered try is a request it counts.
        var seederRequests = 0;
        var seederReply = await Eventually.ValueAsync(
            async () =>
            {
                try
                {
                    var reply = await cluster.AnnounceAsync(seeder, 0, 0, 0, "started");
                    seederRequests++;
                    return reply;
                }
                catch (HttpRequestException)
                {
                    return null;
                }
            },
            reply => reply is not null && Replies.FailureReason(reply) is null,
            TimeSpan.FromSeconds(30));
        Assert.Null(Replies.FailureReason(seederReply!));
        var leechers = new[] { new Announcer(passkey, hash, UrlBytes.Random20(), 7002), new Announcer(passkey, hash, UrlBytes.Random20(), 7003) };
        foreach (var leecher in leechers)
        {
            Assert.Null(Replies.FailureReason(await cluster.AnnounceAsync(leecher, 0, 0, 1000, "started")));
        }

        Assert.Null(Replies.FailureReason(await cluster.AnnounceAsync(leechers[0], 0, 400, 600)));
        Assert.NotNull(Replies.FailureReason(await cluster.AnnounceAsync(new Announcer(TrackerFixture.NewPasskey(), hash, UrlBytes.Random20()), 0, 0, 0, "started")));
        Assert.NotNull(Replies.FailureReason(await cluster.AnnounceAsync(new Announcer(passkey, UrlBytes.Random20(), UrlBytes.Random20()), 0, 0, 0, "started")));
        using (var malformed = await cluster.Http.GetAsync($"/{passkey}/announce?info_hash=short"))
        {
            Assert.True(malformed.IsSuccessStatusCode);
        }

        using (var scrape = await cluster.Http.GetAsync($"/{passkey}/scrape?info_hash={string.Concat(hash.Select(b => $"%{b:X2}"))}"))
        {
            Assert.True(scrape.IsSuccessStatusCode);
        }

        var gatewayPort = cluster.Http.BaseAddress!.Port;
        await using var prometheus = await PrometheusServer.StartAsync(new Dictionary<string, int[]>
        {
            ["gateway"] = [gatewayPort],
            ["silo"] = [cluster.SiloHttpPorts[0]],
        });

        async Task<double?> Settled(string query, double expected) =>
            await Eventually.ValueAsync(() => prometheus.QueryAsync(query), value => value == expected, TimeSpan.FromSeconds(30));

        Assert.Equal(4, await Settled("""sum(chihaya_announces_total{job="gateway",outcome="accepted"})""", 4));
        Assert.Equal(1, await Settled("""sum(chihaya_announces_total{job="gateway",outcome="unknown_passkey"})""", 1));
        Assert.Equal(1, await Settled("""sum(chihaya_announces_total{job="gateway",outcome="unregistered"})""", 1));
        Assert.Equal(1, await Settled("""sum(chihaya_announces_total{job="gateway",outcome="malformed"})""", 1));
        Assert.Equal(1, await Settled("""sum(chihaya_scrapes_total{job="gateway",outcome="accepted"})""", 1));
        Assert.Equal(7 + seederRequests, await Settled("""sum(chihaya_request_duration_seconds_count{job="gateway"})""", 7 + seederRequests));

        Assert.Equal(1, await Settled("""sum(chihaya_swarms{job="silo"})""", 1));
        Assert.Equal(3, await Settled("""sum(chihaya_peers{job="silo"})""", 3));
        Assert.Equal(1, await Settled("""sum(chihaya_seeders{job="silo"})""", 1));
        Assert.Equal(2, await Settled("""sum(chihaya_leechers{job="silo"})""", 2));
        // The tests' flush interval is 200 ms: the 400 bytes are written long before Prometheus' first scrape.
        Assert.Equal(0, await Settled("""sum(chihaya_stats_unwritten_bytes{job="silo"})""", 0));
        Assert.Equal(0, await Settled("""sum(chihaya_stats_unwritten_age_seconds{job="silo"})""", 0));
        Assert.True(await Eventually.ValueAsync(() => prometheus.QueryAsync("""sum(chihaya_db_flush_duration_seconds_count{job="silo"})"""), value => value > 0) > 0);
        Assert.True(await Eventually.ValueAsync(() => prometheus.QueryAsync("""sum(chihaya_site_notice_lag_seconds_count{job="silo"})"""), value => value > 0, TimeSpan.FromSeconds(40)) > 0);
        Assert.True(await Eventually.ValueAsync(() => prometheus.QueryAsync("""count({job="silo",__name__="orleans_catalog_activations"})"""), value => value > 0) > 0);
        Assert.True(await Eventually.ValueAsync(() => prometheus.QueryAsync("""count({job="gateway",__name__=~"dotnet_gc_collections_total|dotnet_process_cpu_time_seconds_total"})"""), value => value > 0) > 0);
        // A scrape of a loaded process can time out (2 s): every target up at a scrape, not necessarily at the last one.
        await Eventually.TrueAsync(async () => await prometheus.AllUpAsync("gateway") && await prometheus.AllUpAsync("silo"), "every gateway and silo target up");
    }
}
