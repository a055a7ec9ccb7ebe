using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>A swarm outlives its silo: peers come back from the site's peers table and nothing is credited twice.</summary>
[Trait("Category", "Cluster")]
public sealed class SiloRestartTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Silo_Restarted_BringsSwarmsBackAndCreditsOnlyNewTraffic(bool killed)
    {
        await using var cluster = await ProcessCluster.StartAsync(silos: 1);
        var db = cluster.Database;
        await db.ExecuteAsync("insert into users (id, passkey) values (1, 'restartseeder0001'), (2, 'restartleecher001')");
        var hash = UrlBytes.Random20();
        await db.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", hash);
        var seeder = new Announcer("restartseeder0001", hash, UrlBytes.Random20(), 50001);
        var leecher = new Announcer("restartleecher001", hash, UrlBytes.Random20(), 50002);
        await cluster.AnnounceAsync(seeder, 0, 0, 0, "started");
        await cluster.AnnounceAsync(leecher, 0, 0, 10_000, "started");
        await cluster.AnnounceAsync(leecher, 0, 4_000, 6_000);
        // A swarm writes its peers in the same transaction as the traffic credited from them, so once the traffic is in
        // the site's table the peers it came from are stored too.
        await WaitForAsync(db, "select raw_downloaded from users where id = 2", 4_000);

        var old = cluster.Silos[0];
        if (killed)
        {
            old.Kill();
        }
        else
        {
            // Graceful: it ends by itself, with a success status, well before it would be killed.
            Assert.True(await old.StopAsync(TimeSpan.FromSeconds(30)), $"the silo did not stop gracefully on SIGTERM\n{cluster.Logs}");
        }

        await cluster.StartSiloAsync();
        var reply = await cluster.AnnounceUntilAcceptedAsync(leecher, 0, 9_000, 1_000, TimeSpan.FromSeconds(90));

        Assert.Contains(CompactPeers(reply), peer => peer.Port == 50001);
        Assert.Equal(1, Integer(reply, "complete"));
        Assert.Equal(1, Integer(reply, "incomplete"));
        await WaitForAsync(db, "select raw_downloaded from users where id = 2", 9_000);
        // Whatever the silo still holds is handed on as it stops: a late duplicate would show now.
        await cluster.StopSilosAsync();
        Assert.True(9_000 == await db.ScalarAsync<long>("select raw_downloaded from users where id = 2"), cluster.Logs);
        Assert.Equal(9_000, await db.ScalarAsync<long>("select raw_downloaded from torrents where id = 1"));
    }

    private static async Task WaitForAsync(PostgresTestDatabase db, string sql, long expected) =>
        await Eventually.TrueAsync(async () => await db.ScalarAsync<long>(sql) >= expected, sql);
}
