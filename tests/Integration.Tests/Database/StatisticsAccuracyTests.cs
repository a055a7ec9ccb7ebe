using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Time.Testing;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>
/// Many peers of several users on several torrents announce growing totals, restart their clients, stop and
/// complete; a model of the README's accounting rules, written independently here, says what the site's tables
/// must hold, and they must hold exactly that, to the byte.
/// </summary>
[Collection(SiteDatabaseCollection.Name)]
public sealed class StatisticsAccuracyTests(SiteDatabaseFixture fixture)
{
    private sealed class Peer(long userId, string passkey, int torrent, byte[] hash, int port)
    {
        public long UserId { get; } = userId;

        public int Torrent { get; } = torrent;

        public Announcer Announcer { get; } = new(passkey, hash, UrlBytes.Random20(), port);

        public bool Active { get; set; }

        public long Up { get; set; }

        public long Down { get; set; }

        public long Left { get; set; }

        public bool Snatched { get; set; }
    }

    [Fact]
    public async Task ManyPeers_RestartsStopsAndMultipliers_DatabaseHoldsExactSums()
    {
        var db = fixture.Database;
        var random = new Random(20261125);
        decimal[] userUp = [1m, 1.5m, 2m, 1m, 0.5m, 1m];
        decimal[] userDown = [1m, 1m, 0.5m, 0m, 1m, 1.25m];
        (decimal Up, decimal Down)[] torrentFactors = [(1m, 0m), (2m, 1m), (1m, 1m), (1m, 0.5m), (2m, 0m)];
        const long size = 50_000_000;

        var users = new (long Id, string Passkey)[userUp.Length];
        for (var u = 0; u < users.Length; u++)
        {
            var id = SiteDatabaseFixture.NextId();
            users[u] = (id, $"accuracy{id:D10}user");
            await db.ExecuteAsync("insert into users (id, passkey, upload_multiplier, download_multiplier) values ($1, $2, $3, $4)", id, users[u].Passkey, userUp[u], userDown[u]);
        }

        var torrents = new (long Id, byte[] Hash)[torrentFactors.Length];
        for (var t = 0; t < torrents.Length; t++)
        {
            torrents[t] = (SiteDatabaseFixture.NextId(), UrlBytes.Random20());
            await db.ExecuteAsync("insert into torrents (id, info_hash, upload_multiplier, download_multiplier) values ($1, $2, $3, $4)",
                torrents[t].Id, torrents[t].Hash, torrentFactors[t].Up, torrentFactors[t].Down);
        }

        var peers = Enumerable.Range(0, 60).Select(i =>
        {
            var u = i % users.Length;
            var t = (i / users.Length) % torrents.Length;
            return (Peer: new Peer(users[u].Id, users[u].Passkey, t, torrents[t].Hash, 40000 + i), UserIndex: u);
        }).ToList();

        var expectedUser = new Dictionary<long, long[]>();
        var expectedTorrent = new Dictionary<long, long[]>();
        var expectedSnatches = new Dictionary<long, long>();
        var snatchedPairs = new HashSet<(long UserId, int Torrent)>();
        void Credit(Peer peer, int userIndex, long up, long down)
        {
            var (tu, td) = torrentFactors[peer.Torrent];
            long[] row = [up, down, (long)decimal.Floor(up * userUp[userIndex] * tu), (long)decimal.Floor(down * userDown[userIndex] * td)];
            foreach (var (map, key) in new[] { (expectedUser, peer.UserId), (expectedTorrent, torrents[peer.Torrent].Id) })
            {
                var sums = map.TryGetValue(key, out var existing) ? existing : map[key] = new long[4];
                for (var c = 0; c < 4; c++)
                {
                    sums[c] += row[c];
                }
            }
        }

        for (var round = 0; round < 8; round++)
        {
            foreach (var (peer, userIndex) in peers)
            {
                if (!peer.Active)
                {
                    // A new client session: totals start again from zero; the first announce only sets the baseline.
                    peer.Up = 0;
                    peer.Down = 0;
                    peer.Left = peer.Snatched ? 0 : size;
                    Assert.Null(FailureReason(await peer.Announcer.AnnounceAsync(fixture.Host, 0, 0, peer.Left, "started")));
                    peer.Active = true;
                    continue;
                }

                var roll = random.Next(100);
                if (roll < 8)
                {
                    // Client restart without a stop: new session totals. The rule: if either total went down
                    // nothing is credited; if both happen to be higher, the tracker cannot tell and credits the rise.
                    var (oldUp, oldDown) = (peer.Up, peer.Down);
                    peer.Up = random.Next(0, 1000);
                    peer.Down = peer.Left > 0 ? random.Next(0, 1000) : peer.Down;
                    await peer.Announcer.AnnounceAsync(fixture.Host, peer.Up, peer.Down, peer.Left);
                    if (peer.Up >= oldUp && peer.Down >= oldDown)
                    {
                        Credit(peer, userIndex, peer.Up - oldUp, peer.Down - oldDown);
                    }

                    continue;
                }

                var up = (long)random.Next(0, 5_000_000);
                var down = peer.Left > 0 ? Math.Min(peer.Left, random.Next(1, 20_000_000)) : 0;
                peer.Up += up;
                peer.Down += down;
                peer.Left -= down;
                var stop = roll >= 93;
                var finished = peer.Left == 0 && down > 0;
                var announceEvent = stop ? "stopped" : finished ? "completed" : null;
                Assert.Null(FailureReason(await peer.Announcer.AnnounceAsync(fixture.Host, peer.Up, peer.Down, peer.Left, announceEvent)));
                Credit(peer, userIndex, up, down);
                // A snatch counts once per user and torrent: later sessions and the user's other peer count none.
                if (finished && !peer.Snatched)
                {
                    peer.Snatched = true;
                    if (snatchedPairs.Add((peer.UserId, peer.Torrent)))
                    {
                        expectedSnatches[torrents[peer.Torrent].Id] = expectedSnatches.GetValueOrDefault(torrents[peer.Torrent].Id) + 1;
                    }
                }

                if (stop)
                {
                    peer.Active = false;
                    peer.Snatched = false;   // a new session downloads again (snatchedPairs decides whether that counts)
                    peer.Left = size;
                }
            }
        }

        await fixture.Host.SettleAsync();
        var mismatch = await CompareAsync(db, "users", expectedUser) + await CompareAsync(db, "torrents", expectedTorrent);

        Assert.True(mismatch.Length == 0, mismatch);
        // Every torrent, those with no snatch expected too: a snatch counted where none was due must show.
        foreach (var torrentId in torrents.Select(torrent => torrent.Id))
        {
            Assert.Equal(expectedSnatches.GetValueOrDefault(torrentId), await db.ScalarAsync<long>("select snatches from torrents where id = $1", torrentId));
        }

        Assert.True(expectedUser.Values.Sum(v => v[0]) > 0);
    }

    [Fact]
    public async Task History_SeedingTimeCompletionAndSwarmSize_LandInTheSiteTables()
    {
        var db = fixture.Database;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TrackerHost.StartAsync(
            new Dictionary<string, string?> { ["Site:Store"] = "Postgres", ["Database:ConnectionString"] = db.ConnectionString },
            clock: clock);
        var (seederId, seederKey) = await fixture.NewUserAsync();
        var (leecherId, leecherKey) = await fixture.NewUserAsync();
        var (torrentId, hash) = await fixture.NewTorrentAsync();
        var seeder = new Announcer(seederKey, hash, UrlBytes.Random20(), 41001);
        var leecher = new Announcer(leecherKey, hash, UrlBytes.Random20(), 41002);

        await seeder.AnnounceAsync(host, 0, 0, 0, "started");
        await leecher.AnnounceAsync(host, 0, 0, 1000, "started");
        clock.Advance(TimeSpan.FromSeconds(150));
        await seeder.AnnounceAsync(host, 1000, 0, 0);
        await leecher.AnnounceAsync(host, 0, 1000, 0, "completed");
        await host.SettleAsync();

        Assert.Equal(2, await db.ScalarAsync<int>("select seeders from torrents where id = $1", torrentId));
        Assert.Equal(0, await db.ScalarAsync<int>("select leechers from torrents where id = $1", torrentId));
        Assert.Equal(150, await db.ScalarAsync<long>("select seeding_seconds from user_torrents where user_id = $1 and torrent_id = $2", seederId, torrentId));
        Assert.Equal(1000, await db.ScalarAsync<long>("select raw_uploaded from user_torrents where user_id = $1 and torrent_id = $2", seederId, torrentId));
        Assert.Equal(1000, await db.ScalarAsync<long>("select raw_downloaded from user_torrents where user_id = $1 and torrent_id = $2", leecherId, torrentId));
        Assert.True(await db.ScalarAsync<bool>("select completed_at is not null and last_announce_at >= completed_at from user_torrents where user_id = $1 and torrent_id = $2", leecherId, torrentId));
        Assert.True(await db.ScalarAsync<bool>("select completed_at is null from user_torrents where user_id = $1 and torrent_id = $2", seederId, torrentId));
    }

    private static async Task<string> CompareAsync(PostgresTestDatabase db, string table, Dictionary<long, long[]> expected)
    {
        var problems = "";
        foreach (var (id, sums) in expected)
        {
            await using var command = db.DataSource.CreateCommand($"select raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded from {table} where id = $1");
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            long[] actual = [reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)];
            if (!actual.SequenceEqual(sums))
            {
                problems += $"{table} {id}: expected [{string.Join(", ", sums)}], database [{string.Join(", ", actual)}]\n";
            }
        }

        return problems;
    }
}
