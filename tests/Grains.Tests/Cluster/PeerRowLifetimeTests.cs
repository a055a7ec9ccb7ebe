using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Faults;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// A peer's row in the site's <c>tracker_peers</c>, which sites read as the active peers, goes when the peer does, on
/// the real PostgreSQL: when a live swarm prunes it as silent, and when its swarm's activation was lost with its silo
/// and nobody announces to that swarm again (the silo's sweep finds the silent rows, and the swarm prunes them as it
/// prunes any silent peer, its counts in <c>torrents</c> included).
/// </summary>
public sealed class PeerRowLifetimeTests : FaultInjectingPostgresCluster<PeerRowLifetimeTests.FlushingSilo>
{
    private static readonly TrackerOptions Tracker = new();

    [Fact]
    public async Task PeerThatTimesOut_InALiveSwarm_LeavesThePeersTable()
    {
        var passkey = new Passkey("peerrowlifetime01");
        await Database.ExecuteAsync("insert into users (id, passkey) values (3, $1)", passkey.Value);
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values (3, $1)", hash.Value.ToArray());
        Task PeerAnnouncesAsync(byte peer) => AnnounceAsync(hash, passkey, peer, uploaded: 0, left: 100);

        await PeerAnnouncesAsync(1);
        await PeerAnnouncesAsync(2);
        await TickAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () => await PeerRowsAsync(3) == 2, "both peers stored");
        // Peer 2 announces every half hour; peer 1 is gone without a goodbye (a client that crashed).
        for (var halfHours = 0; halfHours < 3; halfHours++)
        {
            for (var minute = 0; minute < 30; minute += 5)
            {
                await TickAsync(TimeSpan.FromMinutes(5));
            }

            await PeerAnnouncesAsync(2);
        }

        await TickAsync(TimeSpan.FromSeconds(10));
        await UntilWrittenAsync(async () => await PeerRowsAsync(3) == 1, "the silent peer's row deleted", torrentId: 3);
        Assert.Equal(Enumerable.Repeat((byte)2, 20).ToArray(), await Database.ScalarAsync<byte[]>("select peer_id from tracker_peers where torrent_id = 3"));
        Assert.Equal(1, await Database.ScalarAsync<int>("select leechers from torrents where id = 3"));
    }

    [Fact]
    public async Task ClusterStoppedLongerThanThePeerTimeout_ItsRestoredPeersHaveAPeerTimeoutToAnnounce_AndAreCreditedFromTheirStoredTotals()
    {
        var passkey = new Passkey("peerrowlifetime04");
        await Database.ExecuteAsync("insert into users (id, passkey) values (1, $1)", passkey.Value);
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values (4, $1)", hash.Value.ToArray());
        // Stored at the stop: peers 1 and 2 (1,000 and 2,000 bytes up), and a goodbye of peer 3 a moment before.
        var goodbye = new DepartedPeer(new PeerKey(PeerId.Read(Enumerable.Repeat((byte)3, 20).ToArray()), 1), UnixMicroseconds.From(Clock.GetUtcNow()), Clock.GetUtcNow().ToUnixTimeSeconds());
        await LeaveSwarmAsync(torrentId: 4, [Peer(1, seeder: true), Peer(2, seeder: true)], [goodbye]);
        await TickAsync(TimeSpan.FromHours(3));
        Task PeerAnnouncesAsync(byte peer, long uploaded) => AnnounceAsync(hash, passkey, peer, uploaded, left: 0);

        // Back after three hours: peer 1 announces at once, peer 2 forty minutes later, after the goodbye is forgotten.
        await PeerAnnouncesAsync(1, 1_100);
        for (var minute = 0; minute < 40; minute += 5)
        {
            await TickAsync(TimeSpan.FromMinutes(5));
        }

        await PeerAnnouncesAsync(2, 2_200);
        await TickAsync(TimeSpan.FromSeconds(10));

        await UntilWrittenAsync(
            async () => await Database.ScalarAsync<long>("select raw_uploaded from users where id = 1") == 300,
            "both peers credited from their stored totals (100 + 200 bytes)",
            torrentId: 4);
        Assert.Equal(0, await Database.ScalarAsync<long>("select count(*) from tracker_departed_peers"));
    }

    [Fact]
    public async Task SwarmOfALostActivation_WithNobodyAnnouncing_LosesItsRowsAndCountsOncePrunedAsAnySwarmWould_AndCreditsNothing()
    {
        await Database.ExecuteAsync("insert into users (id, passkey) values (1, 'orphanedswarm0001')");
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values (1, $1), (2, $2)", hash.Value.ToArray(), UrlBytes.Random20());
        // Activations on a silo that then died: each claimed its swarm and wrote its peers, and nobody announced again.
        await LeaveSwarmAsync(torrentId: 1, [Peer(1, seeder: true), Peer(2, seeder: false)]);
        await LeaveSwarmAsync(torrentId: 2, [Peer(1, seeder: true)]);
        await Database.ExecuteAsync("delete from torrents where id = 2");
        var lostEpoch = await EpochAsync();

        var whileRecent = await Sweeper.SweepAsync();
        // The silo's own sweep comes due at this step too: let it finish before the clock moves on, so it reads this time.
        var timedSweeps = Sweeper.CompletedTimedSweeps;
        await TickAsync(Tracker.PeerTimeout);
        await Eventually.TrueAsync(() => Task.FromResult(Sweeper.CompletedTimedSweeps > timedSweeps), "the silo's own sweep at the timeout");
        var atTheTimeout = await Sweeper.SweepAsync();
        await TickAsync(TimeSpan.FromMinutes(3));
        var pastTheTimeout = await Sweeper.SweepAsync();
        var removedTorrentsPeers = await PeerRowsAsync(2);

        // The woken swarm gives its restored peers a peer timeout to announce, as any restored swarm does.
        await Eventually.TrueAsync(async () => await EpochAsync() > lostEpoch, "the woken swarm claimed its peers");
        for (var waited = TimeSpan.Zero; waited < Tracker.PeerTimeout - (2 * Tracker.PruneInterval); waited += Tracker.PruneInterval)
        {
            await TickAsync(Tracker.PruneInterval);
        }

        var peersDuringTheirLastTimeout = await PeerRowsAsync(1);
        for (var step = 0; step < 4; step++)
        {
            await TickAsync(Tracker.PruneInterval);
        }

        await Eventually.TrueAsync(async () => await PeerRowsAsync(1) == 0, "the woken swarm's pruned peers deleted");
        await Eventually.TrueAsync(
            async () => await Database.ScalarAsync<long>("select (seeders + leechers)::bigint from torrents where id = 1") == 0,
            "the torrent's counts written as empty");

        Assert.Equal(new OrphanedSwarms(0, 0), whileRecent);
        Assert.Equal(new OrphanedSwarms(0, 0), atTheTimeout);
        Assert.Equal(new OrphanedSwarms(1, 1), pastTheTimeout);
        Assert.Equal(0, removedTorrentsPeers);
        Assert.Equal(2, peersDuringTheirLastTimeout);
        Assert.Equal(0, await Database.ScalarAsync<long>("select raw_uploaded + raw_downloaded + credited_uploaded + credited_downloaded from users where id = 1"));
        Assert.Equal(0, await Database.ScalarAsync<long>("select count(*) from user_torrents"));
        Assert.Equal(new OrphanedSwarms(0, 0), await Sweeper.SweepAsync());
    }

    [Fact]
    public async Task SweepForSilentPeers_WhileTheirSwarmCannotReadItsTorrent_SaysItDidNotActivateIt_AndTheNextSweepDoes()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values (6, $1)", hash.Value.ToArray());
        await LeaveSwarmAsync(torrentId: 6, [Peer(1, seeder: true)]);
        // The sweep's own query of the peers table answers; the swarm's first read of its torrent fails. (Failing from
        // before the clock moves, as the silo's own sweep comes due meanwhile.)
        Store.ReadsFail = true;
        await TickAsync(OrphanedSwarmSweeper.SilenceFor(Tracker, new StatsOptions()) + TimeSpan.FromMinutes(1));
        var whileUnreadable = await Sweeper.SweepAsync();
        var peersLeft = await PeerRowsAsync(6);
        Store.ReadsFail = false;
        // The swarm's failed read stays its answer for a moment.
        var onceReadable = await Eventually.ValueAsync(() => Sweeper.SweepAsync(), swept => swept.SwarmsWoken == 1);

        // Counted as activated, the log said its peers were being pruned while nothing restored them.
        Assert.Equal(new OrphanedSwarms(0, 0, 1), whileUnreadable);
        Assert.Equal(1, peersLeft);
        Assert.Equal(new OrphanedSwarms(1, 0, 0), onceReadable);
        Assert.Contains(
            Silo.GetRequiredService<FakeLogCollector>().GetSnapshot(),
            line => line.Message.StartsWith("Activating the swarm of torrent 6 to prune its silent stored peers failed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SwarmWokenForItsSilentPeers_WhileTheDatabaseIsDown_LeavesOnceItHasWrittenTheirPrune(bool databaseDownBeforeItsFirstWrite)
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values (5, $1)", hash.Value.ToArray());
        await LeaveSwarmAsync(torrentId: 5, [Peer(1, seeder: true)]);

        // Woken as the orphaned-swarm sweep wakes a swarm (no use of it), then the database goes down: the swarm prunes
        // its restored peer a peer timeout on but cannot write that, so it must stay until it has. The database goes
        // down before the restored swarm writes its size once (so a write is still out at the prune), or after.
        Assert.NotNull(await Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).GetProfile());
        if (!databaseDownBeforeItsFirstWrite)
        {
            var writes = Store.WritesApplied;
            await Eventually.TrueAsync(
                async () =>
                {
                    await TickAsync(new StatsOptions().FlushInterval);
                    return Store.WritesApplied > writes;
                },
                "the restored swarm wrote its size");
        }

        Store.WritesFail = true;
        for (var waited = TimeSpan.Zero; waited < Tracker.PeerTimeout + (3 * Tracker.PruneInterval); waited += Tracker.PruneInterval)
        {
            await TickAsync(Tracker.PruneInterval);
        }

        var activeWhileItsPruneIsUnwritten = Activations.Contains(hash);
        Store.WritesFail = false;
        // The resent write is answered in real time, which no count of the test's clock steps bounds on a loaded machine:
        // the swarm may only leave at a prune after the answer, so the clock steps on until it has.
        await Eventually.TrueAsync(
            async () =>
            {
                await TickAsync(Tracker.PruneInterval);
                return !Activations.Contains(hash);
            },
            "the swarm left once its prune was written");

        Assert.True(activeWhileItsPruneIsUnwritten, "the swarm stays while its prune is unwritten");
        // Written by then, or by its deactivation, which goes on after the swarm has left the silo's list.
        await Eventually.TrueAsync(async () => await PeerRowsAsync(5) == 0, "the pruned peer's row deleted");
    }

    [Fact]
    public async Task RowsOfMoreRemovedTorrentsThanOneDeleteTakes_AreAllDeleted()
    {
        // 1,001 torrents the site removed, a peer each, silent for a day: more torrents than one delete statement takes.
        await Database.ExecuteAsync(
            """
            insert into tracker_peers (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at)
            select 100000 + i, 1, substring(sha256(i::text::bytea) from 1 for 20), '127.0.0.1', 6881, 0, 0, true, false, $1, $1
            from generate_series(1, 1001) i
            """,
            Clock.GetUtcNow() - TimeSpan.FromDays(1));

        Assert.Equal(new OrphanedSwarms(0, 1001), await Sweeper.SweepAsync());
        Assert.Equal(0, await Database.ScalarAsync<long>("select count(*) from tracker_peers"));
    }

    /// <summary>An announce of peer <paramref name="peer"/> (its id that byte 20 times), downloaded 2,000 bytes a peer number, as the clock reads now.</summary>
    private async Task AnnounceAsync(InfoHash hash, Passkey passkey, byte peer, long uploaded, long left)
    {
        var reply = await Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).Announce(new AnnounceCommand(
            PeerId.Read(Enumerable.Repeat(peer, 20).ToArray()), PeerEndpoint.From(IPAddress.Loopback, 6880 + peer), uploaded, 2_000 * peer, left,
            AnnounceEvent.None, 10, false, passkey.ToUserKey(), UnixMicroseconds.From(Clock.GetUtcNow())));
        Assert.Equal(AnnounceStatus.Accepted, reply.Status);
    }

    private OrphanedSwarmSweeper Sweeper => Silo.GetRequiredService<OrphanedSwarmSweeper>();

    private LocalActivations Activations => Silo.GetRequiredService<LocalActivations>();

    private async Task LeaveSwarmAsync(long torrentId, StoredPeer[] peers, DepartedPeer[]? departures = null)
    {
        var store = Silo.GetRequiredService<ISiteStore>();
        var claim = await store.ClaimSwarmAsync(torrentId);
        var seeders = peers.Count(peer => peer.Seeder);
        var flush = new SwarmFlush(
            torrentId, claim.Epoch, 1, new PeerChanges(peers, departures ?? [], []), new TorrentUsage(torrentId, default, 0, seeders, peers.Length - seeders), []);
        Assert.Equal(FlushStatus.Applied, (await store.ApplyFlushesAsync([flush]))[0].Status);
    }

    private static StoredPeer Peer(byte id, bool seeder) => new(
        new PeerEntry
        {
            PeerId = PeerId.Read(Enumerable.Repeat(id, 20).ToArray()),
            Endpoint = PeerEndpoint.From(IPAddress.Loopback, 6880 + id),
            Uploaded = 1_000 * id,
            Downloaded = 2_000 * id,
            UserId = 1,
            LastSeen = Clock.GetUtcNow().ToUnixTimeSeconds(),
            ReceivedAt = UnixMicroseconds.From(Clock.GetUtcNow()),
        },
        seeder);

    /// <summary>
    /// Waits for what the swarm's writes bring about, the clock moving on a flush interval at a time, at most a few, as
    /// a silo's clock would. A swarm has one write out at a time: what it took in while a write was still out (one the
    /// loaded machine answers late) goes in its next, a flush interval after that write was answered, as does a write
    /// that failed. Bounded, so a write later than that by the test's clock still fails the test.
    /// </summary>
    private async Task UntilWrittenAsync(Func<Task<bool>> condition, string what, long torrentId)
    {
        var flushInterval = Silo.GetRequiredService<IOptions<StatsOptions>>().Value.FlushInterval;
        for (var interval = 0; interval < MaxIntervalsForAWrite; interval++)
        {
            if (await Eventually.ValueAsync(condition, static holds => holds, TimeSpan.FromSeconds(5)))
            {
                return;
            }

            await TickAsync(flushInterval);
        }

        await Eventually.TrueAsync(condition, what, () => DescribeAsync(torrentId));
    }

    private const int MaxIntervalsForAWrite = 3;

    /// <summary>What a failed wait reports: the swarm's rows and claim, the silo's writes and unwritten usage, and its latest warnings.</summary>
    private async Task<string> DescribeAsync(long torrentId)
    {
        var now = Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var sweeper = Silo.GetRequiredService<SwarmSweeper>();
        var totals = sweeper.Totals(now);
        var store = Store;
        // Warnings and worse only: the collector keeps no other level (FaultInjectingPostgresSilo).
        var warnings = Silo.GetRequiredService<FakeLogCollector>().GetSnapshot();
        static string Line(FakeLogRecord record)
        {
            var line = $"[{record.Category}] {record.Message} ({record.Exception?.GetType().Name}: {record.Exception?.Message})";
            return line.Length > 300 ? line[..300] : line;
        }

        // Orleans warns of every call a jump of the clock timed out, so the tracker's own lines are picked out.
        var latest = warnings.Where(record => record.Category?.StartsWith("Chihaya", StringComparison.Ordinal) == true).TakeLast(3).Select(Line);
        return $"{await PeerRowsAsync(torrentId)} peer rows, epoch {await Database.ScalarAsync<long?>("select epoch from tracker_swarms where torrent_id = $1", torrentId)}, "
            + $"users.raw_uploaded {await Database.ScalarAsync<long?>("select sum(raw_uploaded)::bigint from users")}; "
            + $"swept {now - sweeper.SweptUpTo} ms behind the clock; {totals.Swarms} swarms with peers, {totals.UnwrittenBytes} bytes unwritten for {totals.OldestUnwrittenAge} s; "
            + $"writes {store.WritesStarted} started, {store.WritesApplied} applied, {store.WritesFailed} failed, {store.FaultsInjected} injected; "
            + $"{warnings.Count} warnings, the latest: {(warnings.Count > 0 ? Line(warnings[^1]) : "none")}; the latest of the tracker's: {string.Join(" | ", latest)}";
    }

    private Task<long> EpochAsync() => Database.ScalarAsync<long>("select epoch from tracker_swarms where torrent_id = 1");

    private Task<long> PeerRowsAsync(long torrentId) => Database.ScalarAsync<long>("select count(*) from tracker_peers where torrent_id = $1", torrentId);

    public sealed class FlushingSilo : FaultInjectingPostgresSilo
    {
        // Swarms write as in production, so a prune reaches the database without the test asking.
        protected override void ConfigureOptions(IServiceCollection services) =>
            services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromSeconds(5));
    }
}
