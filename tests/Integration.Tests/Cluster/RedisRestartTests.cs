using System.Diagnostics;
using Chihaya.Orleans.Integration.Tests.Faults;
using Chihaya.Orleans.TestSupport;
using StackExchange.Redis;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// Redis restarted empty under running silos (no persistence, or a failover that lost data): the silos put the
/// membership they knew back, so the cluster keeps serving, takes new silos and still stops in time.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class RedisRestartTests
{
    // Kubernetes' default grace between SIGTERM and SIGKILL.
    private static readonly TimeSpan TerminationGrace = TimeSpan.FromSeconds(30);

    // Only bounds a failing run: the silos notice the loss at their next heartbeat (10 s) or table refresh.
    private static readonly TimeSpan RestoreDeadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Redis_RestartedEmpty_SilosRestoreMembershipAndKeepServing()
    {
        // Servers of this test's own: stopping the shared Redis would break every other cluster test running now.
        await using var services = await PrivateServices.StartAsync();
        await using var cluster = await ProcessCluster.StartAsync(silos: 2, postgresServer: services.PostgresServer, redis: services.Redis);
        var db = cluster.Database;
        await db.ExecuteAsync("insert into users (id, passkey) values (1, 'redisseeder000001'), (2, 'redisleecher00001'), (3, 'redisleecher00002')");
        var hash = UrlBytes.Random20();
        await db.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", hash);
        var seeder = new Announcer("redisseeder000001", hash, UrlBytes.Random20(), 51001);
        Assert.Null(FailureReason(await cluster.AnnounceAsync(seeder, 0, 0, 0, "started")));
        var silos = await ActiveSilosAsync(cluster, 2);
        var versionBefore = await cluster.MembershipVersionAsync();

        await services.StopRedisAsync();
        await services.RestartStoppedAsync();
        await using (var redis = await ConnectionMultiplexer.ConnectAsync(services.Redis))
        {
            // What a silo starting now writes to an empty Redis (Orleans creates the table at Version 0), as would
            // Orleans' own gateway list: the table begins again below the running silos' view.
            await redis.GetDatabase().HashSetAsync(cluster.MembershipKey, "Version", "0", When.NotExists);
        }

        using var steady = new CancellationTokenSource();
        var steadyAnnounces = AnnounceSteadilyAsync(cluster, seeder, steady.Token);
        var restored = await ActiveSilosAsync(cluster, 2);
        await steady.CancelAsync();
        var (accepted, failures) = await steadyAnnounces;
        Assert.True(failures.Count == 0 && accepted > 0, $"{accepted} announces accepted while the silos restored membership, {failures.Count} failed: {string.Join("; ", failures.Distinct())}\n{cluster.LogsTail(60)}");
        Assert.Equal(silos.Order(), restored.Order());
        // The old version came back (or a later one), so the running silos took the restored table as news.
        Assert.True(await cluster.MembershipVersionAsync() >= versionBefore, $"version {await cluster.MembershipVersionAsync()} after the restart, {versionBefore} before");
        var leecher = new Announcer("redisleecher00001", hash, UrlBytes.Random20(), 51002);
        var reply = await cluster.AnnounceUntilAcceptedAsync(leecher, 0, 0, 1_000, RestoreDeadline, "started");
        Assert.Contains(CompactPeers(reply), peer => peer.Port == 51001);

        await cluster.StartSiloAsync();
        await ActiveSilosAsync(cluster, 3);
        var secondLeecher = new Announcer("redisleecher00002", hash, UrlBytes.Random20(), 51003);
        reply = await cluster.AnnounceUntilAcceptedAsync(secondLeecher, 0, 0, 1_000, RestoreDeadline, "started");
        Assert.Equal(2, Integer(reply, "incomplete"));

        Assert.DoesNotContain(cluster.Silos, silo => silo.HasExited);
        var watch = Stopwatch.StartNew();
        var graceful = await cluster.Silos[0].StopAsync(TerminationGrace * 3);
        var took = watch.Elapsed;
        Assert.True(graceful && took < TerminationGrace, $"the silo took {took} to stop after SIGTERM (graceful: {graceful})\n{cluster.LogsTail(60)}");
        Assert.DoesNotContain(cluster.Silos.Skip(1), silo => silo.HasExited);
    }

    [Fact]
    public async Task Redis_RestartedEmpty_SiloStoppedBeforeItNoticed_ExitsInTimeAndIsDeadInTheRestoredTable()
    {
        await using var services = await PrivateServices.StartAsync();
        await using var cluster = await ProcessCluster.StartAsync(silos: 2, postgresServer: services.PostgresServer, redis: services.Redis);
        var silos = await ActiveSilosAsync(cluster, 2);
        await services.StopRedisAsync();
        await services.RestartStoppedAsync();

        // Stopping writes ShuttingDown, Stopping and Dead, each after reading the table that Redis no longer has.
        var watch = Stopwatch.StartNew();
        var graceful = await cluster.Silos[1].StopAsync(TerminationGrace * 3);
        var took = watch.Elapsed;

        Assert.True(graceful && took < TerminationGrace, $"the silo took {took} to stop after SIGTERM (graceful: {graceful})\n{cluster.LogsTail(60)}");
        var survivor = Assert.Single(await ActiveSilosAsync(cluster, 1));
        var membership = await cluster.MembershipAsync();
        Assert.Equal(SiloStatus.Dead, membership[Assert.Single(silos, silo => silo != survivor)]);
        Assert.False(cluster.Silos[0].HasExited, cluster.LogsTail(60));
    }

    [Fact]
    public async Task SiloStoppedWhileRedisIsAway_WritesTheStatisticsItHeld_ThoughOrleansCannotMarkItStopping()
    {
        await using var services = await PrivateServices.StartAsync();
        // Swarms write only at the silo's stop here: what it held must be written by the stop, not by a flush interval.
        await using var cluster = await ProcessCluster.StartAsync(
            silos: 1, new Dictionary<string, string> { ["Stats__FlushInterval"] = "00:30:00" }, services.PostgresServer, services.Redis);
        var db = cluster.Database;
        await db.ExecuteAsync("insert into users (id, passkey) values (1, 'redisstopper00001')");
        var hash = UrlBytes.Random20();
        await db.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", hash);
        var peer = new Announcer("redisstopper00001", hash, UrlBytes.Random20(), 51011);
        Assert.Null(FailureReason(await cluster.AnnounceAsync(peer, 0, 0, 1_000, "started")));
        // A goodbye with traffic: lost for good unless written, as the peer never announces again.
        Assert.Null(FailureReason(await cluster.AnnounceAsync(peer, 700, 300, 700, "stopped")));

        await services.StopRedisAsync();
        // Orleans cannot mark the silo ShuttingDown in Redis: it retries until the host's stop timeout (20 s), gives the
        // graceful stop up, and the shutdown deadline ends the process at 26 s. Its swarms' deactivations, which write
        // their final flushes, come only after that mark: the silo's sweeper writes what they hold as the stop begins.
        var silo = cluster.Silos[0];
        var stopping = silo.StopAsync(TerminationGrace * 3);
        var (written, gracefulStopGivenUp) = await Eventually.ValueAsync(
            async () => (await db.ScalarAsync<long>("select raw_uploaded + raw_downloaded from users where id = 1"), silo.Output.Contains("Graceful shutdown aborted", StringComparison.Ordinal)),
            state => state.Item1 == 1_000 || silo.HasExited,
            TerminationGrace * 2);
        await stopping;

        // Written by the graceful stop, not left to the last seconds of an ungraceful one (on a busy silo, not enough).
        Assert.True(written == 1_000 && !gracefulStopGivenUp, $"{written} of 1000 bytes written; graceful stop given up by then: {gracefulStopGivenUp}\n{cluster.LogsTail(60)}");
        Assert.Equal(700, await db.ScalarAsync<long>("select raw_uploaded from users where id = 1"));
        Assert.True(silo.HasExited, cluster.LogsTail(60));
    }

    /// <summary>Announces as a seeder's client would, only more often, until cancelled: how many were accepted, and how the others failed.</summary>
    private static async Task<(int Accepted, List<string> Failures)> AnnounceSteadilyAsync(ProcessCluster cluster, Announcer peer, CancellationToken stop)
    {
        var (accepted, failures) = (0, new List<string>());
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var reason = FailureReason(await cluster.AnnounceAsync(peer, 0, 0, 0));
                if (reason is null)
                {
                    accepted++;
                }
                else
                {
                    failures.Add(reason);
                }
            }
            catch (HttpRequestException exception)
            {
                failures.Add(exception.Message);
            }

            // The client's pace between announces, not a wait for anything: the loop ends when the test cancels it.
            await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }

        return (accepted, failures);
    }

    /// <summary>Waits until the membership hash lists exactly <paramref name="count"/> silos as Active; returns their addresses.</summary>
    private static async Task<List<string>> ActiveSilosAsync(ProcessCluster cluster, int count)
    {
        var active = await Eventually.ValueAsync(
            async () => (await cluster.MembershipAsync()).Where(row => row.Value == SiloStatus.Active).Select(row => row.Key).ToList(),
            silos => silos.Count == count,
            RestoreDeadline,
            pollDelay: TimeSpan.FromMilliseconds(500));
        Assert.True(active.Count == count, $"{active.Count} silos Active in Redis, not {count}: {string.Join(", ", await cluster.MembershipAsync())}\n{cluster.LogsTail(60)}");
        return active;
    }
}
