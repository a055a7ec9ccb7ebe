using System.Net;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Cluster;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Core.Internal;
using Orleans.TestingHost;
using static Chihaya.Orleans.Grains.Tests.Faults.FaultInjectingSiteStore;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// Statistics write-back against the real PostgreSQL, with flushes failing half-way: whatever fails is retried,
/// and the database counts every byte exactly once.
/// </summary>
public sealed class FailedFlushTests : IAsyncLifetime
{
    private const string CachedPasskey = "cachedreadsuser01";
    private static FaultInjectingSiteStore? _store;
    private readonly InfoHash _cachedTorrent = InfoHash.Read(UrlBytes.Random20());
    private PostgresTestDatabase _database = null!;
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        // The cached-reads test's user and torrent exist before the silo listens for site changes: their notices,
        // delivered at an unknown moment, would re-read them among the reads that test counts.
        await _database.ExecuteAsync("insert into users (id, passkey) values (7, $1)", CachedPasskey);
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values (7, $1)", _cachedTorrent.Value.ToArray());
        Configurator.ConnectionString = _database.ConnectionString;
        _cluster = new TestClusterBuilder(1).AddSiloBuilderConfigurator<Configurator>().Build();
        await _cluster.DeployAsync();
        _store = Configurator.Store;
        // Its first re-read of everything held is done too.
        var silo = ((InProcessSiloHandle)_cluster.Primary!).SiloHost.Services;
        await silo.GetServices<IHostedService>().OfType<SiteChangeListener>().Single().Listening.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Flush_FailingHalfWay_IsRetriedAndCountedOnce(bool appliedButAnswerLost)
    {
        var fault = appliedButAnswerLost ? Fault.FailAfterApplying : Fault.FailBeforeApplying;
        var passkey = new Passkey("faultyflushuser01");
        await _database.ExecuteAsync("insert into users (id, passkey, upload_multiplier) values (1, $1, 2)", passkey.Value);
        var hash = InfoHash.Read(UrlBytes.Random20());
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1)", hash.Value.ToArray());
        var grains = _cluster.GrainFactory;
        var torrent = grains.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        AnnounceCommand Command(long up, long down, long left) => new(
            PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), up, down, left, AnnounceEvent.None, 10, false, passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow));

        await torrent.Announce(Command(0, 0, 1000));
        await torrent.Announce(Command(100, 600, 400));

        // The swarm's flush fails half-way, then is retried.
        _store!.NextWrite = fault;
        await torrent.FlushUsage();
        await torrent.FlushUsage();

        // More traffic after the failure, flushed normally.
        await torrent.Announce(Command(150, 1000, 0));
        await torrent.FlushUsage();

        Assert.Equal(1, _store.FaultsInjected);
        Assert.Equal(150, await _database.ScalarAsync<long>("select raw_uploaded from users where id = 1"));
        Assert.Equal(300, await _database.ScalarAsync<long>("select credited_uploaded from users where id = 1"));
        Assert.Equal(1000, await _database.ScalarAsync<long>("select raw_downloaded from users where id = 1"));
        Assert.Equal(150, await _database.ScalarAsync<long>("select raw_uploaded from torrents where id = 1"));
        Assert.Equal(1000, await _database.ScalarAsync<long>("select raw_downloaded from torrents where id = 1"));
        Assert.Equal(1, await _database.ScalarAsync<long>("select snatches from torrents where id = 1"));
        Assert.Equal(1000, await _database.ScalarAsync<long>("select raw_downloaded from user_torrents where user_id = 1 and torrent_id = 1"));
    }

    [Fact]
    public async Task Deactivation_WhileTheDatabaseRefusesMoreThanAFewWrites_WritesEverythingOnceItTakesThemAgain()
    {
        // A graceful stop (or an idle swarm's collection) while the database restarts: it refuses connections at once,
        // more times than a few immediate tries would outlast, and takes writes again well within the deactivation's time.
        var passkey = new Passkey("deactivationuser1");
        await _database.ExecuteAsync("insert into users (id, passkey) values (2, $1)", passkey.Value);
        var hash = InfoHash.Read(UrlBytes.Random20());
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values (2, $1)", hash.Value.ToArray());
        var torrent = _cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        AnnounceCommand Command(long up, AnnounceEvent announceEvent) => new(
            PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), up, 0, 0, announceEvent, 10, false, passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow));
        await torrent.Announce(Command(0, AnnounceEvent.Started));
        await torrent.FlushUsage();
        // A goodbye with traffic: lost for good if its flush is not written (the peer never announces again).
        await torrent.Announce(Command(500, AnnounceEvent.Stopped));

        _store!.FailNextWrites = 8;
        await torrent.AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        await Eventually.TrueAsync(
            async () => await _database.ScalarAsync<long>("select raw_uploaded from users where id = 2") == 500, "the goodbye's 500 bytes credited by the deactivation");
        Assert.Equal(0, _store.FailNextWrites);
        Assert.Equal(0, await _database.ScalarAsync<long>("select count(*) from tracker_peers where torrent_id = 2"));
    }

    [Fact]
    public async Task Announces_OnceUserAndTorrentAreCached_ReadNothingFromTheDatabase()
    {
        var passkey = new Passkey(CachedPasskey);
        var hash = _cachedTorrent;
        var users = _cluster.GrainFactory.GetGrain<IUserDirectoryGrain>(0);
        var torrent = _cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        var junk = new Passkey("nosuchpasskey0001").ToUserKey();
        await users.FindUser(passkey.ToUserKey());
        await torrent.Scrape();
        await users.FindUser(junk);
        var readsWhenCached = _store!.Reads;

        for (var i = 0; i < 50; i++)
        {
            await users.FindUser(passkey.ToUserKey());
            await torrent.Announce(new AnnounceCommand(
                PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), i, i, 100, AnnounceEvent.None, 10, false, passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow)));
            Assert.Null(await users.FindUser(junk));
        }

        Assert.Equal(readsWhenCached, _store.Reads);
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public static string ConnectionString { get; set; } = "";

        /// <summary>The silo's store, for the test to arm (the silo runs in this process).</summary>
        public static FaultInjectingSiteStore? Store { get; private set; }

        public void Configure(ISiloBuilder siloBuilder) => PostgresSilo.Configure(
            siloBuilder,
            ConnectionString,
            sp => Store = new FaultInjectingSiteStore(ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp)));
    }
}
