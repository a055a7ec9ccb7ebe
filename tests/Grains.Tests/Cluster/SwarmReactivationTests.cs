using System.Net;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Core.Internal;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// What must hold across a swarm grain's lifetimes, against the real PostgreSQL and durable grain storage: a user's
/// snatch is not counted again by a later activation, and a swarm that cleared its state retires its batch source,
/// whose row goes once no resend of it can be on its way, while live sources keep dropping resends.
/// </summary>
public sealed class SwarmReactivationTests : IAsyncLifetime
{
    // A bound on waiting for a deactivation's writes to land; no test depends on how fast they do.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private PostgresTestDatabase _database = null!;
    private TestCluster _cluster = null!;

    private IGrainFactory Grains => _cluster.GrainFactory;

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        Configurator.ConnectionString = _database.ConnectionString;
        _cluster = new TestClusterBuilder(1).AddSiloBuilderConfigurator<Configurator>().Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Snatch_SameUserCompletingAgainAfterTheSwarmWasReactivated_IsNotCountedAgain()
    {
        var alice = await NewUserAsync(11);
        var bob = await NewUserAsync(12);
        var (hash, torrentId) = await NewTorrentAsync(11);
        var torrent = Grains.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await torrent.Announce(Command(alice, 1, 100, AnnounceEvent.Started));
        await torrent.Announce(Command(alice, 1, 0, AnnounceEvent.Completed));
        await torrent.Announce(Command(alice, 1, 0, AnnounceEvent.Stopped));
        await torrent.FlushUsage();
        var firstCompletion = await CompletedAtAsync(alice.UserId, torrentId);

        // The swarm is empty, so the next activation starts from nothing: no peers, a new batch source.
        await torrent.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await torrent.Announce(Command(alice, 2, 0, AnnounceEvent.Completed));
        await torrent.FlushUsage();
        var snatchesAfterAliceAgain = await SnatchesAsync(torrentId);
        var aliceCompletion = await CompletedAtAsync(alice.UserId, torrentId);
        await torrent.Announce(Command(bob, 3, 0, AnnounceEvent.Completed));
        await torrent.FlushUsage();

        Assert.Equal(1, snatchesAfterAliceAgain);
        Assert.Equal(firstCompletion, aliceCompletion);
        Assert.Equal(2, await SnatchesAsync(torrentId));
        Assert.Equal(2, (await torrent.Scrape()).Downloaded);
    }

    [Fact]
    public async Task ClearedSwarm_RetiresItsSource_PrunedAfterTheGrace_WhileALiveSourceStillDropsAResend()
    {
        var user = await NewUserAsync(21);
        var (hashA, _) = await NewTorrentAsync(21);
        var (hashB, _) = await NewTorrentAsync(22);
        var (hashC, torrentC) = await NewTorrentAsync(23);
        var live = Grains.GetGrain<ITorrentGrain>(hashC.ToGrainKey());
        await live.Announce(Command(user, 1, 100, AnnounceEvent.Started));
        await live.Announce(Command(user, 1, 50, AnnounceEvent.None, up: 10, down: 50));
        await live.FlushUsage();

        // A swarm whose last peer left clears its state when it deactivates: its source can never send again.
        await EmptySwarmAndDeactivateAsync(hashA, user);
        // A swarm that still has a peer keeps its state, and with it its source and any unconfirmed batch.
        await live.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await WaitForRetiredAsync(hashA);
        // Beyond the grace during which a retired source's row stays for sends still on their way.
        Configurator.StoreClock.Advance(RetiredSources.Grace + TimeSpan.FromMinutes(1));
        await EmptySwarmAndDeactivateAsync(hashB, user);
        await WaitForRetiredAsync(hashB);

        Assert.Equal(0, await SourceRowsAsync(hashA));
        Assert.Equal(1, await SourceRowsAsync(hashC));
        Assert.Equal(0, await _database.ScalarAsync<long>("select count(*) from tracker_applied_batches where source like $1 and retired_at is not null", SourcePattern(hashC)));
        var source = await _database.ScalarAsync<string>("select source from tracker_applied_batches where source like $1", SourcePattern(hashC));
        var sequence = await _database.ScalarAsync<long>("select sequence from tracker_applied_batches where source like $1", SourcePattern(hashC));
        await Configurator.Store!.ApplyUsageAsync(new UsageWrite(source, sequence, [], [new TorrentUsage(torrentC, new Traffic(10, 50, 10, 50), 0)]));
        Assert.Equal(10, await _database.ScalarAsync<long>("select raw_uploaded from torrents where id = $1", torrentC));
        // The live swarm comes back with its peer and goes on under the same source.
        await live.Announce(Command(user, 1, 0, AnnounceEvent.None, up: 30, down: 100));
        await live.FlushUsage();
        Assert.Equal(30, await _database.ScalarAsync<long>("select raw_uploaded from torrents where id = $1", torrentC));
        Assert.Equal(source, await _database.ScalarAsync<string>("select source from tracker_applied_batches where source like $1", SourcePattern(hashC)));
    }

    private static AnnounceCommand Command(UserProfile user, int peer, long left, AnnounceEvent announceEvent, long up = 0, long down = 0) => new(
        PeerId.Read([.. BitConverter.GetBytes(peer), .. new byte[16]]),
        PeerEndpoint.From(IPAddress.Loopback, 6000 + peer),
        up,
        down,
        left,
        announceEvent,
        10,
        false,
        user.UserId,
        UserKey(user.UserId),
        user.Multipliers);

    private static string UserKey(long userId) => new Passkey($"reactivation{userId:D8}").ToUserKey();

    private static string SourcePattern(InfoHash hash) => $"t:{hash.ToGrainKey()}#%";

    private async Task<UserProfile> NewUserAsync(long id)
    {
        await _database.ExecuteAsync("insert into users (id, passkey) values ($1, $2)", id, $"reactivation{id:D8}");
        return new UserProfile(id, Multipliers.Neutral, true);
    }

    private async Task<(InfoHash Hash, long Id)> NewTorrentAsync(long id)
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash.Value.ToArray());
        return (hash, id);
    }

    private async Task EmptySwarmAndDeactivateAsync(InfoHash hash, UserProfile user)
    {
        var torrent = Grains.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await torrent.Announce(Command(user, 9, 100, AnnounceEvent.Started));
        await torrent.Announce(Command(user, 9, 100, AnnounceEvent.Stopped, up: 5));
        await torrent.FlushUsage();
        await torrent.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
    }

    private Task WaitForRetiredAsync(InfoHash hash) => Eventually.TrueAsync(
        async () => await _database.ScalarAsync<long>("select count(*) from tracker_applied_batches where source like $1 and retired_at is not null", SourcePattern(hash)) > 0,
        $"the source of {hash.ToGrainKey()} retired",
        Deadline);

    private Task<long> SourceRowsAsync(InfoHash hash) =>
        _database.ScalarAsync<long>("select count(*) from tracker_applied_batches where source like $1", SourcePattern(hash));

    private Task<long> SnatchesAsync(long torrentId) => _database.ScalarAsync<long>("select snatches from torrents where id = $1", torrentId);

    private Task<DateTime> CompletedAtAsync(long userId, long torrentId) =>
        _database.ScalarAsync<DateTime>("select completed_at from user_torrents where user_id = $1 and torrent_id = $2", userId, torrentId);

    private sealed class Configurator : ISiloConfigurator
    {
        public static string ConnectionString { get; set; } = "";

        /// <summary>The store's clock only: the silo keeps real time, so Orleans' own timers are unaffected.</summary>
        public static FakeTimeProvider StoreClock { get; } = new(DateTimeOffset.UtcNow);

        /// <summary>The silo's store (the silo runs in this process).</summary>
        public static ISiteStore? Store { get; private set; }

        public void Configure(ISiloBuilder siloBuilder) =>
            PostgresSilo.Configure(siloBuilder, ConnectionString, sp => Store = ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp, StoreClock));
    }
}
