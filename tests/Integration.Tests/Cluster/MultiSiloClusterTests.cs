using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>Two silo processes and a gateway process on Redis and PostgreSQL serve announces; every byte lands in the site's tables.</summary>
[Trait("Category", "Cluster")]
public sealed class MultiSiloClusterTests
{
    [Fact]
    public async Task Cluster_TwoSilosAndAGateway_ServeAnnouncesAndWriteExactStatistics()
    {
        await using var cluster = await ProcessCluster.StartAsync(silos: 2);
        var db = cluster.Database;
        const int users = 4;
        const int torrents = 24;
        var passkeys = Enumerable.Range(1, users).Select(i => $"clusteruser{i:D4}passkey0000000000").ToArray();
        for (var u = 0; u < users; u++)
        {
            await db.ExecuteAsync("insert into users (id, passkey, upload_multiplier) values ($1, $2, $3)", (long)(u + 1), passkeys[u], u == 0 ? 1.5m : 1m);
        }

        var hashes = Enumerable.Range(0, torrents).Select(_ => UrlBytes.Random20()).ToArray();
        for (var t = 0; t < torrents; t++)
        {
            // Every third torrent freeleech, every third double upload, the rest neutral.
            var (up, down) = (t % 3) switch { 0 => (1m, 0m), 1 => (2m, 1m), _ => (1m, 1m) };
            await db.ExecuteAsync("insert into torrents (id, info_hash, upload_multiplier, download_multiplier) values ($1, $2, $3, $4)", (long)(t + 1), hashes[t], up, down);
        }

        var expected = new long[users, 4];
        for (var t = 0; t < torrents; t++)
        {
            var (torrentUp, torrentDown) = (t % 3) switch { 0 => (1m, 0m), 1 => (2m, 1m), _ => (1m, 1m) };
            var seeder = new Announcer(passkeys[t % users], hashes[t], UrlBytes.Random20(), 20000 + t);
            var leecher = new Announcer(passkeys[(t + 1) % users], hashes[t], UrlBytes.Random20(), 30000 + t);
            Assert.Null(FailureReason(await cluster.AnnounceAsync(seeder, 0, 0, 0, "started")));
            var reply = await cluster.AnnounceAsync(leecher, 0, 0, 1000, "started");
            Assert.Equal($"127.0.0.1:{20000 + t}", Assert.Single(CompactPeers(reply)).ToString());
            await cluster.AnnounceAsync(leecher, 333, 777, 223);
            await cluster.AnnounceAsync(seeder, 777 + t, 0, 0);
            await cluster.AnnounceAsync(leecher, 334, 1000, 0, "completed");

            Credit(expected, t % users, 777 + t, 0, torrentUp * (t % users == 0 ? 1.5m : 1m), torrentDown);
            // The leecher reported twice: credit is rounded per announce (the README's rule), so per delta here.
            var leecherUp = torrentUp * ((t + 1) % users == 0 ? 1.5m : 1m);
            Credit(expected, (t + 1) % users, 333, 777, leecherUp, torrentDown);
            Credit(expected, (t + 1) % users, 1, 223, leecherUp, torrentDown);
        }

        var activeSilos = (await cluster.MembershipAsync()).Values.Count(status => status == SiloStatus.Active);
        await Eventually.ValueAsync(() => ReadUserStatsAsync(db, users), actual => Same(expected, actual));
        // Whatever the silos still hold is handed on as they stop: a late duplicate would show now.
        await cluster.StopSilosAsync();
        var actual = await ReadUserStatsAsync(db, users);

        Assert.Equal(2, activeSilos);
        Assert.True(Same(expected, actual), $"expected {Show(expected)}, database has {Show(actual)}\n{cluster.Logs}");
        Assert.Equal(torrents, await db.ScalarAsync<long>("select sum(snatches)::bigint from torrents"));
    }

    private static void Credit(long[,] expected, int user, long up, long down, decimal upFactor, decimal downFactor)
    {
        expected[user, 0] += up;
        expected[user, 1] += down;
        expected[user, 2] += (long)decimal.Floor(up * upFactor);
        expected[user, 3] += (long)decimal.Floor(down * downFactor);
    }

    private static async Task<long[,]> ReadUserStatsAsync(PostgresTestDatabase db, int users)
    {
        var stats = new long[users, 4];
        await using var command = db.DataSource.CreateCommand("select id, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded from users order by id");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var user = (int)reader.GetInt64(0) - 1;
            for (var column = 0; column < 4; column++)
            {
                stats[user, column] = reader.GetInt64(column + 1);
            }
        }

        return stats;
    }

    private static bool Same(long[,] a, long[,] b) => a.Cast<long>().SequenceEqual(b.Cast<long>());

    private static string Show(long[,] stats) => string.Join(" | ", Enumerable.Range(0, stats.GetLength(0))
        .Select(u => string.Join(",", Enumerable.Range(0, 4).Select(c => stats[u, c]))));
}
