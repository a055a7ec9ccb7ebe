using Chihaya.Orleans.Integration.Tests.Hosting;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Chihaya.Orleans.Grains.Database;
using Npgsql;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>
/// A site that migrates as the schema's owner and runs the tracker as a role of its own: without grants the tracker
/// does not start (one line naming what was denied); with the shipped <c>deploy/sql/roles/grant-tracker.sql</c> it
/// serves, registers through the admin API and credits statistics.
/// </summary>
public sealed class DatabaseRolesTests
{
    [Fact]
    public async Task TrackersOwnRole_WithoutGrantsDoesNotStart_WithTheShippedGrantsServesAndCredits()
    {
        // Granted between two releases' migrations: the later release's tables and sequence (the swarms' peers and
        // claims, 005) are covered by the default privileges, with no new grant.
        await using var db = await PostgresTestDatabase.CreateAsync(migrateThrough: 4);
        var role = "tracker_" + Guid.NewGuid().ToString("N")[..12];
        var password = Guid.NewGuid().ToString("N");
        await db.ExecuteAsync($"create role {role} login password '{password}'");
        try
        {
            var settings = new Dictionary<string, string>
            {
                ["Site__Store"] = "Postgres",
                ["Database__ConnectionString"] = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = password }.ConnectionString,
                ["Database__MigrateOnStart"] = "false",
            };

            var (exitCode, output) = await StartupProblemTests.RunGatewayAsync(settings);
            StartupProblemTests.AssertOneLineProblem(exitCode, output, "the database role may not do what the tracker needs (permission denied for table");

            var grants = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "deploy", "sql", "roles", "grant-tracker.sql"));
            await db.ExecuteAsync(grants.Replace(":\"tracker_role\"", $"\"{role}\"", StringComparison.Ordinal));
            // The next release's migrations, by the owner who granted.
            await SchemaMigrator.MigrateAsync(db.DataSource);
            Assert.True(await db.ScalarAsync<bool>($"select has_table_privilege('{role}', 'tracker_peers', 'insert')"));

            await using (var host = await TrackerHost.StartAsync(settings.ToDictionary(setting => setting.Key.Replace("__", ":", StringComparison.Ordinal), setting => (string?)setting.Value)))
            {
                var passkey = TrackerFixture.NewPasskey();
                await host.PutUserAsync(passkey, 1);
                var hash = UrlBytes.Random20();
                await host.PutTorrentAsync(hash, 1);
                var peer = new Announcer(passkey, hash, UrlBytes.Random20());
                Assert.Null(Replies.FailureReason(await peer.AnnounceAsync(host, 0, 0, 0, "started")));
                Assert.Null(Replies.FailureReason(await peer.AnnounceAsync(host, 1000, 0, 0)));

                Assert.Equal(1000, await Eventually.ValueAsync(() => db.ScalarAsync<long>("select raw_uploaded from users where id = 1"), uploaded => uploaded == 1000));
            }
        }
        finally
        {
            // Its privileges in this database first; a role with none left can go.
            await db.ExecuteAsync($"drop owned by {role}");
            await db.ExecuteAsync($"drop role {role}");
        }
    }
}
