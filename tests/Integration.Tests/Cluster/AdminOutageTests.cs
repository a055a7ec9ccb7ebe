using System.Net;
using System.Text;
using System.Text.Json;
using Chihaya.Orleans.Integration.Tests.Faults;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// The admin API with the site's database away or no silo left: 503 with the reason and a Retry-After, as an
/// operator's script can act on, instead of a bare 500; and the same calls succeed once what was away is back.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class AdminOutageTests
{
    private const string UserPath = "/admin/users/adminoutageuser0000000000000001";

    [Fact]
    public async Task DatabaseAwayThenSiloGone_AdminCallsAnswer503WithTheReason_AndSucceedOnceTheDatabaseIsBack()
    {
        await using var services = await PrivateServices.StartAsync();
        await using var cluster = await ProcessCluster.StartAsync(silos: 1, postgresServer: services.PostgresServer, redis: services.Redis);
        using (var stored = await PutUserAsync(cluster, canLeech: true))
        {
            Assert.Equal(HttpStatusCode.NoContent, stored.StatusCode);
        }

        await services.StopPostgresAsync();
        using (var put = await PutUserAsync(cluster, canLeech: false))
        {
            await AssertUnavailableAsync(put, "database");
        }

        using (var get = await cluster.Admin.GetAsync(UserPath))
        {
            await AssertUnavailableAsync(get, "database");
        }

        await services.RestartStoppedAsync();
        using (var again = await Eventually.ValueAsync(() => PutUserAsync(cluster, canLeech: false), response => response.StatusCode != HttpStatusCode.ServiceUnavailable))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        using (var read = await cluster.Admin.GetAsync(UserPath))
        {
            using var document = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
            Assert.False(document.RootElement.GetProperty("user").GetProperty("canLeech").GetBoolean());
        }

        Assert.True(await cluster.Silos[0].StopAsync(TimeSpan.FromSeconds(60)), cluster.Logs);
        using (var get = await cluster.Admin.GetAsync(UserPath))
        {
            await AssertUnavailableAsync(get, "no silo answered");
        }

        Assert.DoesNotContain("adminoutageuser", cluster.Logs, StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> PutUserAsync(ProcessCluster cluster, bool canLeech) =>
        cluster.Admin.PutAsync(UserPath, new StringContent($$"""{"id":1,"canLeech":{{(canLeech ? "true" : "false")}}}""", Encoding.UTF8, "application/json"));

    private static async Task AssertUnavailableAsync(HttpResponseMessage response, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
        Assert.Contains(reason, JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter);
    }
}
