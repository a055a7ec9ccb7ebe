using System.Collections.Concurrent;
using System.Diagnostics;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>
/// What an announce costs once its user and torrent are cached: one grain call from the gateway and no database
/// query, also for a user who announces one torrent every 30 minutes. Counted on the embedded tracker on PostgreSQL:
/// grain calls by a silo call filter, queries by Npgsql's own tracing of every command it sends. A passkey or info hash
/// the site does not know costs neither while the gateway remembers the refusal.
/// </summary>
public sealed class WarmAnnounceCostTests
{
    [Fact]
    public async Task WarmAnnounce_IsOneGrainCall_AndNoQuery_AlsoHalfAnHourAfterTheLast()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        using var queries = new QueryCounter(database.Name);
        var calls = TrackerGrainCalls();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // The timers' own reads and writes (the safety-net re-reads, the statistics flush) are not the announce's:
        // they are moved out of the half hour this test spans, so every query counted is one an announce caused.
        await using var host = await StartOnAsync(database, [calls], clock, ("Site:RefreshInterval", "02:00:00"), ("Stats:FlushInterval", "02:00:00"));
        await ListeningAsync(host);
        await database.ExecuteAsync("insert into users (id, passkey) values (1, 'warmannouncecostpasskey01')");
        var hashes = new[] { UrlBytes.Random20(), UrlBytes.Random20() };
        await database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1), (2, $2)", hashes[0], hashes[1]);
        var peers = hashes.Select(hash => new Announcer("warmannouncecostpasskey01", hash, UrlBytes.Random20())).ToList();
        foreach (var peer in peers)
        {
            AssertAccepted(await peer.AnnounceAsync(host, 0, 0, 1_000, "started"));
        }

        var coldQueries = queries.Count;
        var coldCalls = calls.Count;
        queries.Reset();
        calls.Reset();
        for (var i = 1; i <= 5; i++)
        {
            AssertAccepted(await peers[0].AnnounceAsync(host, i * 100, i * 100, 1_000 - (i * 100)));
        }

        AssertAccepted(await peers[1].AnnounceAsync(host, 100, 100, 900));
        var warm = (Calls: calls.Count, Queries: queries.Count);
        var warmStatements = queries.Describe();
        // The half hour fires the silo's housekeeping (a swarm's first prune; the sweep for silent stored peers, which
        // reads the peers table): not the announce's cost, so it is let finish before counting starts.
        var (swarmSweeper, orphanSweeper) = (host.Services.GetRequiredService<SwarmSweeper>(), host.Services.GetRequiredService<OrphanedSwarmSweeper>());
        var orphanSweeps = orphanSweeper.CompletedTimedSweeps;
        clock.Advance(TimeSpan.FromMinutes(30));
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await Eventually.TrueAsync(
            () => Task.FromResult(swarmSweeper.SweptUpTo >= now && orphanSweeper.CompletedTimedSweeps > orphanSweeps),
            "the housekeeping the half hour fired is done");
        queries.Reset();
        calls.Reset();
        AssertAccepted(await peers[1].AnnounceAsync(host, 200, 200, 800));
        var halfAnHourLater = (Calls: calls.Count, Queries: queries.Count);

        Assert.True(coldQueries > 0 && coldCalls >= 2, $"the counters see the cold announces ({coldQueries} queries, {coldCalls} calls)");
        Assert.True(warm == (6, 0), $"6 warm announces: {warm.Calls} grain calls, {warm.Queries} queries: {warmStatements}");
        Assert.True(halfAnHourLater == (1, 0), $"half an hour later: {halfAnHourLater.Calls} grain calls, {halfAnHourLater.Queries} queries: {queries.Describe()}");
    }

    [Fact]
    public async Task RepeatedUnknownKeys_CostNoGrainCallAndNoQuery_UntilTheGatewaysMemoryOfThemEnds()
    {
        const string UnknownPasskey = "unknown passkey: download the torrent again from the site";
        const string NotRegistered = "torrent not registered with this tracker";
        await using var database = await PostgresTestDatabase.CreateAsync();
        using var queries = new QueryCounter(database.Name);
        var calls = TrackerGrainCalls();
        var announces = new GrainCallCounter(context => context.InterfaceMethod?.DeclaringType == typeof(ITorrentGrain)
            && context.InterfaceMethod.Name == nameof(ITorrentGrain.Announce));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartOnAsync(database, [calls, announces], clock, ("Gateway:UnknownKeyLifetime", "00:00:10"));
        await ListeningAsync(host);
        await database.ExecuteAsync("insert into users (id, passkey) values (1, 'unknownkeycostpasskey0001')");
        var registered = UrlBytes.Random20();
        await database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", registered);
        var unregistered = UrlBytes.Random20();
        var removedUser = new Announcer("nosuchuserpasskey00000001", registered, UrlBytes.Random20());
        var unregisteredTorrent = new Announcer("unknownkeycostpasskey0001", unregistered, UrlBytes.Random20());
        var scrapeOfRemovedUser = $"/nosuchuserpasskey00000001/scrape?info_hash={UrlBytes.Encode(registered)}";
        var firstRefusals = (User: FailureReason(await removedUser.AnnounceAsync(host, 0, 0, 100, "started")),
            Torrent: FailureReason(await unregisteredTorrent.AnnounceAsync(host, 0, 0, 100, "started")));
        var firstAnnounces = announces.Count;

        queries.Reset();
        calls.Reset();
        var repeatedRefusals = new List<string?>();
        for (var i = 0; i < 3; i++)
        {
            repeatedRefusals.Add(FailureReason(await removedUser.AnnounceAsync(host, 0, 0, 100)));
            repeatedRefusals.Add(FailureReason(await unregisteredTorrent.AnnounceAsync(host, 0, 0, 100)));
        }

        repeatedRefusals.Add(FailureReason(await host.GetBencodeAsync(scrapeOfRemovedUser)));
        var repeated = (Calls: calls.Count, Queries: queries.Count);
        var repeatedStatements = queries.Describe();

        // The site registers the torrent: the silo learns it from the change notice, the gateway only once its memory
        // of the refusal ends, ten seconds after the cluster's answer, however often the client is refused meanwhile.
        await database.ExecuteAsync("insert into torrents (id, info_hash) values (2, $1)", unregistered);
        var swarm = host.Services.GetRequiredService<IGrainFactory>().GetGrain<ITorrentGrain>(Convert.ToHexStringLower(unregistered));
        await Eventually.TrueAsync(async () => await swarm.GetProfile() is not null, "the silo read the torrent the site registered");
        clock.Advance(TimeSpan.FromSeconds(6));
        announces.Reset();
        var sixSecondsOn = (User: FailureReason(await removedUser.AnnounceAsync(host, 0, 0, 100)),
            Torrent: FailureReason(await unregisteredTorrent.AnnounceAsync(host, 0, 0, 100, "started")),
            Scrape: FailureReason(await host.GetBencodeAsync(scrapeOfRemovedUser)));
        var announcesSixSecondsOn = announces.Count;
        clock.Advance(TimeSpan.FromSeconds(4));
        var tenSecondsOn = (User: FailureReason(await removedUser.AnnounceAsync(host, 0, 0, 100)),
            Torrent: FailureReason(await unregisteredTorrent.AnnounceAsync(host, 0, 0, 100, "started")));
        var announcesTenSecondsOn = announces.Count - announcesSixSecondsOn;

        Assert.Equal((UnknownPasskey, NotRegistered), firstRefusals);
        Assert.True(firstAnnounces == 2, $"the first refusals were the cluster's ({firstAnnounces} announce calls)");
        Assert.Equal([UnknownPasskey, NotRegistered], repeatedRefusals.Distinct());
        Assert.True(repeated == (0, 0), $"6 repeated announces and a scrape: {repeated.Calls} grain calls, {repeated.Queries} queries: {repeatedStatements}");
        Assert.Equal((UnknownPasskey, NotRegistered, UnknownPasskey), sixSecondsOn);
        Assert.Equal(0, announcesSixSecondsOn);
        Assert.Equal((UnknownPasskey, (string?)null), tenSecondsOn);
        Assert.Equal(2, announcesTenSecondsOn);
    }

    private static void AssertAccepted(Dictionary<string, object> reply) => Assert.Null(FailureReason(reply));

    /// <summary>
    /// The tracker's grains only: Orleans' own system grains are not the tracker's cost, nor the status reports every
    /// silo and gateway sends on their own timer (a clock advanced by a test fires them).
    /// </summary>
    private static GrainCallCounter TrackerGrainCalls() => new(context => context.InterfaceName.StartsWith("Chihaya.", StringComparison.Ordinal)
        && context.InterfaceMethod?.DeclaringType != typeof(IClusterStatusGrain));

    /// <summary>
    /// Waits until the change listener first listens: it then re-reads every torrent the silo holds, which is no
    /// announce's cost, and on a loaded machine it came late enough to land among the announces counted.
    /// </summary>
    private static Task ListeningAsync(TrackerHost host) =>
        host.Services.GetServices<IHostedService>().OfType<SiteChangeListener>().Single().Listening.WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>The embedded tracker on <paramref name="database"/>, its grain calls counted, on <paramref name="clock"/>.</summary>
    private static Task<TrackerHost> StartOnAsync(PostgresTestDatabase database, GrainCallCounter[] counters, FakeTimeProvider clock, params (string Key, string Value)[] settings)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["Site:Store"] = "Postgres",
            ["Database:ConnectionString"] = database.ConnectionString,
        };
        foreach (var (key, value) in settings)
        {
            configuration[key] = value;
        }

        return TrackerHost.StartAsync(
            configuration,
            configure: builder =>
            {
                foreach (var counter in counters)
                {
                    builder.Services.AddSingleton<IIncomingGrainCallFilter>(counter);
                }
            },
            clock: clock);
    }

    /// <summary>
    /// Counts the commands Npgsql sends to one database, from its tracing. What the silo does on its own clock is no
    /// announce's and is left out: the change listener's keep-alive (a <c>select 1</c> after 30 quiet seconds, with a
    /// re-read of the client list), its probe notices (every 10 s, timing the notice lag), and the readiness check the
    /// status report runs (<c>SELECT 1</c>).
    /// </summary>
    private sealed class QueryCounter : IDisposable
    {
        private static readonly string[] KeepAlive = ["select 1", "SELECT 1", "select peer_id_prefix from allowed_clients", "select pg_notify($1, $2)"];
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<string> _statements = new();

        public QueryCounter(string databaseName)
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "Npgsql",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = activity =>
                {
                    // Only commands carry a query text. Npgsql also traces opening a physical connection ("CONNECT db"),
                    // which is no query: the change listener's start may open one while the announces run.
                    var statement = (activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement"))?.ToString();
                    var database = (activity.GetTagItem("db.namespace") ?? activity.GetTagItem("db.name"))?.ToString();
                    if (statement is not null && database == databaseName && !KeepAlive.Contains(statement.Trim()))
                    {
                        _statements.Enqueue(statement);
                    }
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public int Count => _statements.Count;

        public void Reset() => _statements.Clear();

        public string Describe() => string.Join(" | ", _statements.Select(statement => statement.Length > 80 ? statement[..80] : statement));

        public void Dispose() => _listener.Dispose();
    }
}
