using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Cluster;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Hosting;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// Announces of many distinct unknown info hashes, which no cache can answer, while the site's database is slow to
/// read them (here a site's job holds a lock on the freeleech tokens that every torrent read looks at), on the real
/// PostgreSQL with a pool of 8 connections. Such first reads may hold only a quarter of the pool, so the swarms'
/// statistics are still written meanwhile, and the announces past that quarter are answered unavailable within a
/// second instead of waiting on the database.
/// </summary>
public sealed class ReadFloodTests : IAsyncLifetime
{
    private const int PoolSize = 8;
    private const int FloodedHashes = 12;

    // The silo's clock; a new one per test, as Orleans keeps time by it too.
    private static FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private PostgresTestDatabase _database = null!;
    private TestCluster _cluster = null!;

    private IServiceProvider Silo => ((InProcessSiloHandle)_cluster.Primary!).SiloHost.Services;

    public async Task InitializeAsync()
    {
        Clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _database = await PostgresTestDatabase.CreateAsync();
        await _database.ExecuteAsync("insert into users (id, passkey) values (1, 'readflood00000001')");
        // Before the silo listens, so no notice of it makes the swarm re-read its torrent while the test holds the lock.
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", Torrent.Value.ToArray());
        Configurator.ConnectionString = $"{_database.ConnectionString};Maximum Pool Size={PoolSize}";
        _cluster = new TestClusterBuilder(1).AddSiloBuilderConfigurator<Configurator>().Build();
        await _cluster.DeployAsync();
        await Silo.GetServices<IHostedService>().OfType<SiteChangeListener>().Single().Listening.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static readonly InfoHash Torrent = InfoHash.Read(UrlBytes.Random20());

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task DistinctUnknownHashes_WhileTheDatabaseIsSlowToReadThem_HoldAQuarterOfThePool_AndTheStatisticsAreStillWritten()
    {
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(Torrent, uploaded: 0)).Status);
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(Torrent, uploaded: 1_000)).Status);

        await using var siteJob = await _database.DataSource.OpenConnectionAsync();
        await using var lockHeld = await siteJob.BeginTransactionAsync();
        await using (var lockTokens = siteJob.CreateCommand())
        {
            lockTokens.CommandText = "lock table freeleech_tokens in access exclusive mode";
            await lockTokens.ExecuteNonQueryAsync();
        }

        var hashes = Enumerable.Range(0, FloodedHashes).Select(_ => InfoHash.Read(UrlBytes.Random20())).ToList();
        var flood = hashes.Select(AnnounceOrFailureAsync).ToList();
        var slots = Silo.GetRequiredService<FirstReadGate>().Slots;
        // Every announce is answered within seconds: those past the quarter when the gate refuses their reads, the
        // others when their swarm's wait for its first read is up. The reads that took the slots go on.
        var answers = await Task.WhenAll(flood).WaitAsync(TimeSpan.FromSeconds(30));
        // They reach the database in their own time (a connection to open first).
        var waitingAtTheDatabase = await Eventually.ValueAsync(ReadsWaitingForTheLockAsync, waiting => waiting >= slots);

        await SiloClock.TickAsync(Clock, Silo, Silo.GetRequiredService<IOptions<StatsOptions>>().Value.FlushInterval);
        await Eventually.TrueAsync(
            async () => await _database.ScalarAsync<long>("select raw_uploaded from users where id = 1") == 1_000,
            "the swarm's statistics written while the reads wait on the database");
        var stillWaiting = await ReadsWaitingForTheLockAsync();

        await lockHeld.RollbackAsync();
        // A failed first read stays its swarm's answer for a second.
        var onceReadable = await Eventually.ValueAsync(
            async () => await Task.WhenAll(hashes.Select(AnnounceOrFailureAsync)),
            all => all.All(answer => answer is AnnounceResult { Status: AnnounceStatus.TorrentNotRegistered }));

        Assert.Equal(2, slots);
        Assert.True(waitingAtTheDatabase == slots && stillWaiting == slots, $"{waitingAtTheDatabase}, then {stillWaiting} reads waited at the database, not the {slots} that have slots");
        var refusals = answers.Select(answer => Assert.IsType<SiteUnavailableException>(answer).Message).ToList();
        Assert.Equal(FloodedHashes - slots, refusals.Count(message => message.StartsWith("the site's database is slow", StringComparison.Ordinal)));
        Assert.Equal(slots, refusals.Count(message => message.StartsWith("the site did not answer the torrent's read", StringComparison.Ordinal)));
        Assert.All(onceReadable, answer => Assert.Equal(AnnounceStatus.TorrentNotRegistered, Assert.IsType<AnnounceResult>(answer).Status));
    }

    private Task<long> ReadsWaitingForTheLockAsync() =>
        _database.ScalarAsync<long>(
            "select count(*) from pg_locks where not granted and database = (select oid from pg_database where datname = current_database()) and relation = 'freeleech_tokens'::regclass");

    /// <summary>The announce's answer, or the exception it failed with.</summary>
    private async Task<object> AnnounceOrFailureAsync(InfoHash hash)
    {
        try
        {
            return await AnnounceAsync(hash, uploaded: 0);
        }
        catch (Exception failure)
        {
            return failure;
        }
    }

    /// <summary>User 1's leecher announces, as the clock reads now.</summary>
    private async Task<AnnounceResult> AnnounceAsync(InfoHash hash, long uploaded) =>
        await _cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).Announce(new AnnounceCommand(
            PeerId.Read(Enumerable.Repeat((byte)1, 20).ToArray()), PeerEndpoint.From(IPAddress.Loopback, 6881), uploaded, 0, 100,
            AnnounceEvent.None, 10, false, new Passkey("readflood00000001").ToUserKey(), UnixMicroseconds.From(Clock.GetUtcNow())));

    private sealed class Configurator : ISiloConfigurator
    {
        public static string ConnectionString { get; set; } = "";

        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<TimeProvider>(Clock);
            PostgresSilo.Configure(siloBuilder, ConnectionString, sp => ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp));
            // Swarms write as in production, so the statistics reach the database without the test asking.
            siloBuilder.Services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromSeconds(5));
        }
    }
}
