using System.Net;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// What must hold across a swarm grain's lifetimes, against the real PostgreSQL: a swarm comes back with its stored
/// peers, a user's snatch is not counted again by a later activation, and an activation fenced out by a newer claim
/// writes nothing, while the traffic it accepted is credited once, by the activation that holds the swarm.
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
        var firstEpoch = await _database.ScalarAsync<long>("select epoch from tracker_swarms where torrent_id = $1", torrentId);

        // The swarm is empty, so the next activation starts with no peers and has forgotten that Alice snatched.
        await torrent.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await torrent.Announce(Command(alice, 2, 0, AnnounceEvent.Completed));
        await torrent.FlushUsage();
        var reactivated = await _database.ScalarAsync<long>("select epoch from tracker_swarms where torrent_id = $1", torrentId) > firstEpoch;
        var snatchesAfterAliceAgain = await SnatchesAsync(torrentId);
        var aliceCompletion = await CompletedAtAsync(alice.UserId, torrentId);
        await torrent.Announce(Command(bob, 3, 0, AnnounceEvent.Completed));
        await torrent.FlushUsage();

        Assert.True(reactivated, "a new activation (a new claim) took Alice's second completion");
        Assert.Equal(1, snatchesAfterAliceAgain);
        Assert.Equal(firstCompletion, aliceCompletion);
        Assert.Equal(2, await SnatchesAsync(torrentId));
        Assert.Equal(2, (await torrent.Scrape()).Downloaded);
    }

    [Fact]
    public async Task Swarm_DeactivatedWithPeers_ComesBackFromThePeersTable_AndCreditsOnlyNewTraffic()
    {
        var user = await NewUserAsync(21);
        var (hash, torrentId) = await NewTorrentAsync(21);
        var torrent = Grains.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await torrent.Announce(Command(user, 1, 100, AnnounceEvent.Started, up: 1_000, down: 2_000));
        await torrent.Announce(Command(user, 1, 50, AnnounceEvent.None, up: 1_010, down: 2_050));
        var firstEpoch = await _database.ScalarAsync<long>("select epoch from tracker_swarms where torrent_id = $1", torrentId);
        await torrent.AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        // The site can read the swarm's peers: the row holds the totals the credited traffic ends at.
        await Eventually.TrueAsync(
            async () => await _database.ScalarAsync<long>("select coalesce(max(uploaded), 0) from tracker_peers where torrent_id = $1", torrentId) == 1_010,
            "the peer stored by the deactivation",
            Deadline);
        var reply = await torrent.Announce(Command(user, 1, 0, AnnounceEvent.None, up: 1_030, down: 2_100));
        await torrent.FlushUsage();

        Assert.True(await _database.ScalarAsync<long>("select epoch from tracker_swarms where torrent_id = $1", torrentId) > firstEpoch);
        Assert.Equal((1, 0), (reply.Seeders, reply.Leechers));
        Assert.Equal(30, await _database.ScalarAsync<long>("select raw_uploaded from users where id = $1", user.UserId));
        Assert.Equal(100, await _database.ScalarAsync<long>("select raw_downloaded from torrents where id = $1", torrentId));
        Assert.True(await _database.ScalarAsync<bool>("select seeder from tracker_peers where torrent_id = $1", torrentId));
    }

    [Fact]
    public async Task Swarm_ClaimedByAnotherActivation_WritesNothingMore_AndTheTrafficItForgotIsCreditedOnceFromTheStoredPeer()
    {
        var user = await NewUserAsync(31);
        var (hash, torrentId) = await NewTorrentAsync(31);
        var stale = Grains.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await stale.Announce(Command(user, 1, 100, AnnounceEvent.Started));
        await stale.Announce(Command(user, 1, 100, AnnounceEvent.None, up: 10));
        await stale.FlushUsage();

        // A second activation elsewhere (as during a membership change) claims the swarm and reads the stored peer.
        var duplicate = await Configurator.Store!.ClaimSwarmAsync(torrentId);
        // The first activation still takes the peer's announce and tries to write it: it is fenced, writes nothing, goes.
        await stale.Announce(Command(user, 1, 100, AnnounceEvent.None, up: 50));
        await stale.FlushUsage();
        var afterFenced = await _database.ScalarAsync<long>("select raw_uploaded from users where id = $1", user.UserId);
        var storedAfterFenced = await _database.ScalarAsync<long>("select uploaded from tracker_peers where torrent_id = $1", torrentId);

        // The peer's next announce reaches a new activation, which credits from the stored totals: 10 → 80, once.
        // (Until the fenced activation is gone, it refuses announces as moved, and they are sent again.)
        await Eventually.TrueAsync(
            async () =>
            {
                await stale.Announce(Command(user, 1, 100, AnnounceEvent.None, up: 80));
                return await _database.ScalarAsync<long>("select epoch from tracker_swarms where torrent_id = $1", torrentId) > duplicate.Epoch;
            },
            "a new activation claimed the swarm",
            Deadline);
        await stale.FlushUsage();

        Assert.Equal(10, Assert.Single(duplicate.Peers).Entry.Uploaded);
        Assert.Equal(10, afterFenced);
        Assert.Equal(10, storedAfterFenced);
        Assert.Equal(80, await _database.ScalarAsync<long>("select raw_uploaded from users where id = $1", user.UserId));
        Assert.Equal(80, await _database.ScalarAsync<long>("select uploaded from tracker_peers where torrent_id = $1", torrentId));
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
        PasskeyOf(user.UserId).ToUserKey(),
        UnixMicroseconds.From(DateTimeOffset.UtcNow));

    private async Task<UserProfile> NewUserAsync(long id)
    {
        await _database.ExecuteAsync("insert into users (id, passkey) values ($1, $2)", id, PasskeyOf(id).Value);
        return new UserProfile(id, Multipliers.Neutral, true);
    }

    private static Passkey PasskeyOf(long userId) => new($"reactivation{userId:D8}");

    private async Task<(InfoHash Hash, long Id)> NewTorrentAsync(long id)
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash.Value.ToArray());
        return (hash, id);
    }

    private Task<long> SnatchesAsync(long torrentId) => _database.ScalarAsync<long>("select snatches from torrents where id = $1", torrentId);

    private Task<DateTime> CompletedAtAsync(long userId, long torrentId) =>
        _database.ScalarAsync<DateTime>("select completed_at from user_torrents where user_id = $1 and torrent_id = $2", userId, torrentId);

    private sealed class Configurator : ISiloConfigurator
    {
        public static string ConnectionString { get; set; } = "";

        /// <summary>The silo's store (the silo runs in this process).</summary>
        public static ISiteStore? Store { get; private set; }

        public void Configure(ISiloBuilder siloBuilder) =>
            PostgresSilo.Configure(siloBuilder, ConnectionString, sp => Store = ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp));
    }
}
