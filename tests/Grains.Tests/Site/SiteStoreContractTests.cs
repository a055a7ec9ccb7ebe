using System.Net;
using Npgsql;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Site;

/// <summary>
/// What every site store must do alike: the in-memory one of the embedded tracker and the site's PostgreSQL
/// database run this same suite.
/// </summary>
public abstract class SiteStoreContractTests : IAsyncLifetime
{
    private static long _nextId = 1;

    private protected ISiteStore Store { get; set; } = null!;

    /// <summary>The store's clock.</summary>
    private protected FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    private protected static long NextId() => Interlocked.Increment(ref _nextId);

    private static Passkey NewPasskey() => new(Guid.NewGuid().ToString("N"));

    /// <summary>A user and a torrent the store knows, with ids no other test uses.</summary>
    private protected async Task<(long UserId, long TorrentId)> NewUserAndTorrentAsync()
    {
        var userId = NextId();
        var torrentId = NextId();
        await Store.PutUserAsync(NewPasskey(), new UserProfile(userId, Multipliers.Neutral, true));
        await Store.PutTorrentAsync(InfoHash.Read(UrlBytes.Random20()), new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        return (userId, torrentId);
    }

    private protected static readonly DateTimeOffset At = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// A flush of one user's traffic on one torrent (a history row of <paramref name="bytes"/> raw uploaded, twice that
    /// raw downloaded, three and four times that credited), or of the given history rows instead; optionally peers.
    /// </summary>
    private protected static SwarmFlush Flush(
        SwarmClaim claim, long sequence, long torrentId, long userId, long bytes, StoredPeer[]? peers = null, UserTorrentUsage[]? history = null) => new(
        torrentId,
        claim.Epoch,
        sequence,
        new PeerChanges(peers ?? [], [], []),
        new TorrentUsage(torrentId, new Traffic(bytes, bytes, bytes, bytes), 0, 1, 2),
        history is not null ? [.. history.Select(row => new HistoryRow(row.UserId, UsageTotals.From(row)))]
        : bytes == 0 ? []
        : [new HistoryRow(userId, new UsageTotals(new Traffic(bytes, bytes * 2, bytes * 3, bytes * 4), 0, 0, At.UtcTicks))]);

    private protected static StoredPeer Peer(long userId, byte id, long uploaded, bool seeder = false) => new(
        new PeerEntry
        {
            PeerId = PeerId.Read(Enumerable.Repeat(id, 20).ToArray()),
            Endpoint = PeerEndpoint.From(IPAddress.Parse("2001:db8::7"), 51413),
            Uploaded = uploaded,
            Downloaded = uploaded * 2,
            UserId = userId,
            LastSeen = At.ToUnixTimeSeconds(),
            ReceivedAt = UnixMicroseconds.From(At) + id,
            HasSnatched = seeder,
        },
        seeder);

    private protected async Task<FlushResult> ApplyAsync(SwarmFlush flush) => (await Store.ApplyFlushesAsync([flush]))[0];

    [Fact]
    public async Task Find_Unknown_ReturnsNull()
    {
        Assert.Null(await Store.FindUserAsync(NewPasskey().ToUserKey()));
        Assert.Null(await Store.FindTorrentAsync(InfoHash.Read(UrlBytes.Random20())));
    }

    [Fact]
    public async Task PutUser_IsFoundByTheDigestOfItsPasskey()
    {
        var passkey = NewPasskey();
        var profile = new UserProfile(NextId(), new Multipliers(1.5m, 0.25m), false);

        Assert.Null(await Store.PutUserAsync(passkey, profile));

        Assert.Equal(profile, await Store.FindUserAsync(passkey.ToUserKey()));
    }

    [Fact]
    public async Task PutUser_NewPasskeyForKnownId_ReplacesTheOldOne()
    {
        var id = NextId();
        var old = NewPasskey();
        var fresh = NewPasskey();
        await Store.PutUserAsync(old, new UserProfile(id, Multipliers.Neutral, true));

        var replaced = await Store.PutUserAsync(fresh, new UserProfile(id, Multipliers.Neutral, true));

        Assert.Equal(old.ToUserKey(), replaced);
        Assert.Null(await Store.FindUserAsync(old.ToUserKey()));
        Assert.Equal(id, (await Store.FindUserAsync(fresh.ToUserKey()))!.UserId);
    }

    [Fact]
    public async Task RemoveUser_ForgetsIt()
    {
        var passkey = NewPasskey();
        await Store.PutUserAsync(passkey, new UserProfile(NextId(), Multipliers.Neutral, true));

        Assert.True(await Store.RemoveUserAsync(passkey));
        Assert.False(await Store.RemoveUserAsync(passkey));
        Assert.Null(await Store.FindUserAsync(passkey.ToUserKey()));
    }

    [Fact]
    public async Task PutTorrent_StatusReasonAndMultipliersRoundTrip_AndSnatchesSurviveAChange()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        var id = NextId();
        await Store.PutTorrentAsync(hash, new TorrentProfile(id, TorrentStatus.Active, null, new Multipliers(2m, 0m), 0));
        var claim = await Store.ClaimSwarmAsync(id);
        await ApplyAsync(Flush(claim, 1, id, NextId(), 10, history: [.. Enumerable.Range(0, 3).Select(_ => new UserTorrentUsage(NextId(), id, default, 0, At, At))]));

        await Store.PutTorrentAsync(hash, new TorrentProfile(id, TorrentStatus.Deleted, "dupe", new Multipliers(2m, 0m), 0));

        var found = await Store.FindTorrentAsync(hash);
        Assert.Equal(new TorrentProfile(id, TorrentStatus.Deleted, "dupe", new Multipliers(2m, 0m), 3), found);
        Assert.True(await Store.RemoveTorrentAsync(hash));
        Assert.Null(await Store.FindTorrentAsync(hash));
    }

    [Fact]
    public async Task ApplyFlushes_AddToUserAndTorrent_AndAFlushResentAfterALostAnswerCountsOnce()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);

        FlushResult[] results =
        [
            await ApplyAsync(Flush(claim, 1, torrentId, userId, 10)),
            await ApplyAsync(Flush(claim, 1, torrentId, userId, 10)),     // the same flush resent
            await ApplyAsync(Flush(claim, 2, torrentId, userId, 5)),
            await ApplyAsync(Flush(claim, 2, torrentId, userId, 5)),
        ];

        Assert.All(results, result => Assert.Equal(FlushStatus.Applied, result.Status));
        AssertCreditForRowsGoneReported(users: 0, torrents: 0);
        Assert.Equal(new Traffic(15, 30, 45, 60), await Store.GetUserTrafficAsync(userId));
        Assert.Equal(new Traffic(15, 15, 15, 15), await Store.GetTorrentTrafficAsync(torrentId));
    }

    [Fact]
    public async Task ApplyFlushes_OfAUserAndATorrentTheSiteRemovedMeanwhile_LandInTheirHistory_AndBringNeitherBack()
    {
        var passkey = NewPasskey();
        var hash = InfoHash.Read(UrlBytes.Random20());
        var (userId, torrentId) = (NextId(), NextId());
        await Store.PutUserAsync(passkey, new UserProfile(userId, Multipliers.Neutral, true));
        await Store.PutTorrentAsync(hash, new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var claim = await Store.ClaimSwarmAsync(torrentId);
        // The site deletes both while the tracker holds traffic of the user on the torrent, not yet written.
        await Store.RemoveUserAsync(passkey);
        await Store.RemoveTorrentAsync(hash);

        // A flush of the swarm's size alone (no traffic), as its prune or deactivation writes, credits nothing.
        var sizeOnly = await ApplyAsync(Flush(claim, 1, torrentId, userId, 0));
        AssertCreditForRowsGoneReported(users: 0, torrents: 0);
        var result = await ApplyAsync(Flush(claim, 2, torrentId, userId, 10));

        Assert.Equal(FlushStatus.Applied, sizeOnly.Status);
        Assert.Equal(FlushStatus.Applied, result.Status);
        Assert.Equal(new Traffic(10, 20, 30, 40), (await Store.GetUserTorrentAsync(userId, torrentId))!.Value.Traffic);
        Assert.Null(await Store.FindUserAsync(passkey.ToUserKey()));
        Assert.Null(await Store.FindTorrentAsync(hash));
        AssertCreditForRowsGoneReported(users: 1, torrents: 1);
    }

    /// <summary>For a store whose user and torrent rows can go: it reports traffic that found no row (0 and 0: no report).</summary>
    private protected virtual void AssertCreditForRowsGoneReported(int users, int torrents)
    {
    }

    [Fact]
    public async Task Claim_ReturnsThePeersAsTheLastAppliedFlushLeftThem()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var first = await Store.ClaimSwarmAsync(torrentId);
        var (stays, leaves, joins) = (Peer(userId, 1, 100, seeder: true), Peer(userId, 2, 200), Peer(userId, 3, 300));

        await ApplyAsync(Flush(first, 1, torrentId, userId, 0, peers: [stays, leaves]));
        await ApplyAsync(Flush(first, 2, torrentId, userId, 0) with
        {
            Peers = new PeerChanges([joins], [new DepartedPeer(new PeerKey(leaves.Entry.PeerId, userId), 77, At.ToUnixTimeSeconds())], []),
        });
        var second = await Store.ClaimSwarmAsync(torrentId);

        Assert.True(second.Epoch > first.Epoch);
        Assert.Equal(new[] { stays, joins }.OrderBy(p => p.Entry.Uploaded), second.Peers.OrderBy(p => p.Entry.Uploaded));
        Assert.Equal(new DepartedPeer(new PeerKey(leaves.Entry.PeerId, userId), 77, At.ToUnixTimeSeconds()), Assert.Single(second.Departures));
        Assert.Empty((await Store.ClaimSwarmAsync(NextId())).Peers);
    }

    [Fact]
    public async Task Claim_OfAnInfoHashTheSiteMovedToANewId_TakesOverThePeersAndDeparturesOfTheOldId()
    {
        var (userId, oldId) = await NewUserAndTorrentAsync();
        var hash = InfoHash.Read(UrlBytes.Random20());
        var old = await Store.ClaimSwarmAsync(oldId, hash);
        var (stays, leaves) = (Peer(userId, 1, 100), Peer(userId, 2, 200));
        await ApplyAsync(Flush(old, 1, oldId, userId, 0, peers: [stays, leaves]));
        await ApplyAsync(Flush(old, 2, oldId, userId, 0) with
        {
            Peers = new PeerChanges([], [new DepartedPeer(new PeerKey(leaves.Entry.PeerId, userId), 77, At.ToUnixTimeSeconds())], []),
        });

        var newId = NextId();
        var moved = await Store.ClaimSwarmAsync(newId, hash);

        // Each peer's next announce then credits from its stored totals: nothing since its last announce is lost.
        Assert.Equal(100, Assert.Single(moved.Peers).Entry.Uploaded);
        Assert.Equal(leaves.Entry.PeerId, Assert.Single(moved.Departures).Key.PeerId);
        Assert.Empty((await Store.ClaimSwarmAsync(oldId)).Peers);
        Assert.Equal(FlushStatus.Fenced, (await ApplyAsync(Flush(old, 3, oldId, userId, 1))).Status);
    }

    [Fact]
    public async Task Claim_OfAnIdTheSiteGaveANewInfoHash_StartsWithoutTheOldHashsPeers_ThenKeepsItsOwn()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var oldHash = InfoHash.Read(UrlBytes.Random20());
        var newHash = InfoHash.Read(UrlBytes.Random20());
        var old = await Store.ClaimSwarmAsync(torrentId, oldHash);
        await ApplyAsync(Flush(old, 1, torrentId, userId, 0, peers: [Peer(userId, 1, 100)]));

        var rekeyed = await Store.ClaimSwarmAsync(torrentId, newHash);
        await ApplyAsync(Flush(rekeyed, 1, torrentId, userId, 0, peers: [Peer(userId, 2, 200)]));
        var again = await Store.ClaimSwarmAsync(torrentId, newHash);

        Assert.Empty(rekeyed.Peers);
        Assert.Equal(200, Assert.Single(again.Peers).Entry.Uploaded);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Claims_OfTwoTorrentsTheSiteSwappedTheIdsOf_EachTakeTheirOwnPeers_InEitherOrder(bool movedHashFirst)
    {
        var (userId, firstId) = await NewUserAndTorrentAsync();
        var secondId = NextId();
        var (a, b) = (InfoHash.Read(UrlBytes.Random20()), InfoHash.Read(UrlBytes.Random20()));
        var claimOfA = await Store.ClaimSwarmAsync(firstId, a);
        await ApplyAsync(Flush(claimOfA, 1, firstId, userId, 0, peers: [Peer(userId, 1, 100)]));
        var claimOfB = await Store.ClaimSwarmAsync(secondId, b);
        await ApplyAsync(Flush(claimOfB, 1, secondId, userId, 0, peers: [Peer(userId, 2, 200)]));

        // The site swaps the ids: A is now the second torrent, B the first. Each swarm claims when it next announces.
        SwarmClaim nowA, nowB;
        if (movedHashFirst)
        {
            nowA = await Store.ClaimSwarmAsync(secondId, a);
            nowB = await Store.ClaimSwarmAsync(firstId, b);
        }
        else
        {
            nowB = await Store.ClaimSwarmAsync(firstId, b);
            nowA = await Store.ClaimSwarmAsync(secondId, a);
        }

        Assert.Equal(100, Assert.Single(nowA.Peers).Entry.Uploaded);
        Assert.Equal(200, Assert.Single(nowB.Peers).Entry.Uploaded);
    }

    [Fact]
    public async Task Flush_OfAnOlderClaim_IsFencedAndChangesNothing_WhileTheNewClaimWrites()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var stale = await Store.ClaimSwarmAsync(torrentId);
        await ApplyAsync(Flush(stale, 1, torrentId, userId, 10, peers: [Peer(userId, 1, 100)]));
        var current = await Store.ClaimSwarmAsync(torrentId);

        // The stale activation credited the peer from 100 to 150 and tries to write it, alone and beside another swarm.
        var otherTorrent = NextId();
        var otherClaim = await Store.ClaimSwarmAsync(otherTorrent);
        var staleResults = await Store.ApplyFlushesAsync(
        [
            Flush(stale, 2, torrentId, userId, 50, peers: [Peer(userId, 1, 150)]),
            Flush(otherClaim, 1, otherTorrent, userId, 1),
        ]);
        var afterFenced = await Store.GetUserTrafficAsync(userId);
        var peersAfterFenced = (await Store.ClaimSwarmAsync(torrentId)).Peers;

        Assert.Equal([FlushStatus.Fenced, FlushStatus.Applied], staleResults.Select(r => r.Status));
        Assert.Equal(new Traffic(11, 22, 33, 44), afterFenced);
        Assert.Equal(100, Assert.Single(peersAfterFenced).Entry.Uploaded);
        Assert.Equal(FlushStatus.Fenced, (await ApplyAsync(Flush(current, 1, torrentId, userId, 1))).Status);   // itself fenced by the read above
    }

    [Fact]
    public async Task ApplyFlushes_TheSameFlushTwiceInOneWrite_CountsOnce()
    {
        // A swarm has one flush out at a time, so this never comes from the tracker; the store must not count it twice.
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);

        var results = await Store.ApplyFlushesAsync([Flush(claim, 1, torrentId, userId, 10), Flush(claim, 1, torrentId, userId, 10)]);

        Assert.Contains(results, result => result.Status == FlushStatus.Applied);
        Assert.Equal(new Traffic(10, 20, 30, 40), await Store.GetUserTrafficAsync(userId));
        Assert.Equal(FlushStatus.Applied, (await ApplyAsync(Flush(claim, 2, torrentId, userId, 1))).Status);
    }

    [Fact]
    public async Task ApplyFlushes_AStaleAndTheCurrentFlushOfOneTorrentInOneWrite_OnlyTheCurrentOneCounts()
    {
        // One torrent id under two info hashes for a moment (the site moved it), both swarms on one silo: the old
        // hash's swarm holds a stale claim, and both flushes go into one write.
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var stale = await Store.ClaimSwarmAsync(torrentId);
        var current = await Store.ClaimSwarmAsync(torrentId);

        var results = await Store.ApplyFlushesAsync([Flush(stale, 1, torrentId, userId, 10), Flush(current, 1, torrentId, userId, 1)]);

        Assert.Equal([FlushStatus.Fenced, FlushStatus.Applied], results.Select(r => r.Status));
        Assert.Equal(new Traffic(1, 2, 3, 4), await Store.GetUserTrafficAsync(userId));
    }

    [Fact]
    public async Task Flush_OfAnUnclaimedSwarmOrSkippingASequence_IsFenced()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);

        Assert.Equal(FlushStatus.Fenced, (await ApplyAsync(Flush(claim, 1, NextId(), userId, 10))).Status);
        Assert.Equal(FlushStatus.Fenced, (await ApplyAsync(Flush(claim, 2, torrentId, userId, 10))).Status);
        Assert.Equal(default, await Store.GetUserTrafficAsync(userId));
    }

    [Fact]
    public async Task ApplyFlushes_UserTorrentHistory_AccumulatesKeepsFirstCompletionAndLatestAnnounce()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);
        UserTorrentUsage Row(long bytes, long seeding, DateTimeOffset? completed, DateTimeOffset last) =>
            new(userId, torrentId, new Traffic(bytes, bytes, bytes, 0), seeding, completed, last);

        await ApplyAsync(Flush(claim, 1, torrentId, userId, 0, history: [Row(100, 60, null, At)]));
        await ApplyAsync(Flush(claim, 2, torrentId, userId, 0, history: [Row(50, 30, At.AddHours(1), At.AddHours(1))]));
        await ApplyAsync(Flush(claim, 2, torrentId, userId, 0, history: [Row(50, 30, At.AddHours(1), At.AddHours(1))]));
        await ApplyAsync(Flush(claim, 3, torrentId, userId, 0, history: [Row(1, 0, At.AddHours(2), At.AddHours(2))]));

        var history = await Store.GetUserTorrentAsync(userId, torrentId);

        Assert.Equal(new Traffic(151, 151, 151, 0), history!.Value.Traffic);
        Assert.Equal(90, history.Value.SeedingSeconds);
        Assert.Equal(At.AddHours(1), history.Value.CompletedAt);
        Assert.Equal(At.AddHours(2), history.Value.LastAnnounceAt);
        Assert.Null(await Store.GetUserTorrentAsync(userId, torrentId + 1000));
    }

    [Fact]
    public async Task ApplyFlushes_CompletionsOfOneUserOnOneTorrent_CountOneSnatch_WhicheverFlushOrClaimRepeatsThem()
    {
        var torrentId = NextId();
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Store.PutTorrentAsync(hash, new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var (alice, bob) = (NextId(), NextId());
        SwarmFlush Completion(SwarmClaim claim, long sequence, long userId, DateTimeOffset completedAt) =>
            Flush(claim, sequence, torrentId, userId, 0, history: [new UserTorrentUsage(userId, torrentId, default, 0, completedAt, completedAt)]);
        var swarm = await Store.ClaimSwarmAsync(torrentId);

        List<long> counted =
        [
            (await ApplyAsync(Completion(swarm, 1, alice, At))).SnatchesCounted,
            (await ApplyAsync(Completion(swarm, 2, alice, At.AddHours(1)))).SnatchesCounted,      // another peer id of hers
        ];
        var reactivated = await Store.ClaimSwarmAsync(torrentId);
        counted.Add((await ApplyAsync(Completion(reactivated, 1, alice, At.AddHours(2)))).SnatchesCounted);  // a swarm that forgot her
        var afterAlice = (await Store.FindTorrentAsync(hash))!.Snatches;
        counted.Add((await ApplyAsync(Completion(reactivated, 2, bob, At.AddHours(3)))).SnatchesCounted);
        counted.Add((await ApplyAsync(Completion(reactivated, 2, bob, At.AddHours(3)))).SnatchesCounted);   // a resend

        Assert.Equal([1L, 0, 0, 1, 0], counted);
        Assert.Equal(1, afterAlice);
        Assert.Equal(2, (await Store.FindTorrentAsync(hash))!.Snatches);
        Assert.Equal(At, (await Store.GetUserTorrentAsync(alice, torrentId))!.Value.CompletedAt);
        Assert.Equal(At.AddHours(3), (await Store.GetUserTorrentAsync(bob, torrentId))!.Value.CompletedAt);
    }

    [Fact]
    public async Task ApplyFlushes_AUsersRowsFromSeveralSwarmsInOneWrite_AddUpToItsTraffic_AndRowsWithoutTrafficCreditNothing()
    {
        var (userId, firstTorrent) = await NewUserAndTorrentAsync();
        var (idle, secondTorrent) = await NewUserAndTorrentAsync();
        var first = await Store.ClaimSwarmAsync(firstTorrent);
        var second = await Store.ClaimSwarmAsync(secondTorrent);
        UserTorrentUsage Row(long user, long torrentId, long bytes) => new(user, torrentId, new Traffic(bytes, 2 * bytes, 3 * bytes, 4 * bytes), 0, null, At);

        var results = await Store.ApplyFlushesAsync(
        [
            Flush(first, 1, firstTorrent, userId, 0, history: [Row(userId, firstTorrent, 10), Row(idle, firstTorrent, 0)]),
            Flush(second, 1, secondTorrent, userId, 0, history: [Row(userId, secondTorrent, 5)]),
        ]);

        Assert.All(results, result => Assert.Equal(FlushStatus.Applied, result.Status));
        Assert.Equal(new Traffic(15, 30, 45, 60), await Store.GetUserTrafficAsync(userId));
        Assert.Equal(new Traffic(5, 10, 15, 20), (await Store.GetUserTorrentAsync(userId, secondTorrent))!.Value.Traffic);
        Assert.Equal(default, await Store.GetUserTrafficAsync(idle));
        Assert.Equal(At, (await Store.GetUserTorrentAsync(idle, firstTorrent))!.Value.LastAnnounceAt);
    }

    [Fact]
    public async Task ApplyFlushes_APrunedPeer_LeavesThePeersTable_WhileOneForgottenAndStoredInTheSameFlushStays()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);
        await ApplyAsync(Flush(claim, 1, torrentId, userId, 0, [Peer(userId, 1, 10), Peer(userId, 2, 10)]));
        var pruned = new PeerKey(Peer(userId, 1, 10).Entry.PeerId, userId);
        var rejoined = new PeerKey(Peer(userId, 2, 10).Entry.PeerId, userId);

        await ApplyAsync(Flush(claim, 2, torrentId, userId, 0) with { Peers = new PeerChanges([Peer(userId, 2, 20)], [], [pruned, rejoined]) });

        var stored = Assert.Single((await Store.ClaimSwarmAsync(torrentId)).Peers);
        Assert.Equal((rejoined.PeerId, 20L), (stored.Entry.PeerId, stored.Entry.Uploaded));
    }

    [Fact]
    public async Task FindSwarmsWithSilentPeers_FindsTorrentsWithAPeerOrDepartureOlderThanTheCutoff_InIdOrder_EachOnce()
    {
        var (userId, _) = await NewUserAndTorrentAsync();
        var silentBefore = At.AddMinutes(-30);
        var (silent, silentHash) = await NewTorrentAsync();
        var (recent, _) = await NewTorrentAsync();
        var (departedOnly, departedHash) = await NewTorrentAsync();
        var (removed, removedHash) = await NewTorrentAsync();
        var oldGoodbye = new DepartedPeer(new PeerKey(PeerId.Read(new byte[20]), userId), 0, At.AddHours(-1).ToUnixTimeSeconds());
        await StorePeersAsync(silent, [Silent(Peer(userId, 1, 10), At.AddHours(-2)), Silent(Peer(userId, 2, 10), At.AddHours(-3)), Peer(userId, 3, 10)], [oldGoodbye]);
        await StorePeersAsync(recent, [Peer(userId, 1, 10), Silent(Peer(userId, 2, 10), silentBefore.AddSeconds(1))]);
        await StorePeersAsync(departedOnly, [], [new DepartedPeer(new PeerKey(PeerId.Read(new byte[20]), userId), 0, At.AddHours(-1).ToUnixTimeSeconds())]);
        await StorePeersAsync(removed, [Silent(Peer(userId, 1, 10), At.AddHours(-2))]);
        await Store.RemoveTorrentAsync(removedHash);

        var found = await Store.FindSwarmsWithSilentPeersAsync(silentBefore);

        Assert.Equal([new SilentSwarm(silent, silentHash), new SilentSwarm(departedOnly, departedHash), new SilentSwarm(removed, null)], found);
    }

    [Fact]
    public async Task DeleteSilentPeersOfRemovedTorrents_DeletesOnlyTheSilentRowsOfTorrentsTheSiteNoLongerHas()
    {
        var (userId, _) = await NewUserAndTorrentAsync();
        var silentBefore = At.AddMinutes(-30);
        var (removed, removedHash) = await NewTorrentAsync();
        var (registered, registeredHash) = await NewTorrentAsync();
        var departure = new DepartedPeer(new PeerKey(PeerId.Read(new byte[20]), userId), 0, At.AddHours(-1).ToUnixTimeSeconds());
        await StorePeersAsync(removed, [Silent(Peer(userId, 1, 10), At.AddHours(-2)), Silent(Peer(userId, 2, 10), At.AddHours(-3)), Peer(userId, 3, 10)], [departure]);
        await StorePeersAsync(registered, [Silent(Peer(userId, 1, 10), At.AddHours(-2))]);
        await Store.RemoveTorrentAsync(removedHash);

        var deleted = await Store.DeleteSilentPeersOfRemovedTorrentsAsync([removed, registered], silentBefore);

        Assert.Equal(2, deleted);
        var removedLeft = await Store.ClaimSwarmAsync(removed);
        Assert.Equal(Peer(userId, 3, 10).Entry.PeerId, Assert.Single(removedLeft.Peers).Entry.PeerId);
        Assert.Empty(removedLeft.Departures);
        Assert.Single((await Store.ClaimSwarmAsync(registered)).Peers);
        Assert.Equal([new SilentSwarm(registered, registeredHash)], await Store.FindSwarmsWithSilentPeersAsync(silentBefore));
    }

    [Fact]
    public async Task ParkedPeersOfAnIdTheSiteGaveANewInfoHash_OnceSilent_AreFoundAsNoTorrentsAndDeleted()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var silentBefore = At.AddMinutes(-30);
        var oldHash = InfoHash.Read(UrlBytes.Random20());
        var old = await Store.ClaimSwarmAsync(torrentId, oldHash);
        await ApplyAsync(Flush(old, 1, torrentId, userId, 0, peers: [Silent(Peer(userId, 1, 100), At.AddHours(-2))]));
        var parkedBefore = await ParkedSwarmsAsync(silentBefore);

        // The site gives the id a new info hash and does not register the old one again: the old hash's rows are parked.
        await Store.ClaimSwarmAsync(torrentId, InfoHash.Read(UrlBytes.Random20()));
        var parked = Assert.Single((await ParkedSwarmsAsync(silentBefore)).Except(parkedBefore));
        var deleted = await Store.DeleteSilentPeersOfRemovedTorrentsAsync([parked.TorrentId], silentBefore);
        var parkedAfter = await ParkedSwarmsAsync(silentBefore);
        // Had the rows stayed, the old hash registered again under another id would take them over.
        var oldHashAgain = await Store.ClaimSwarmAsync(NextId(), oldHash);

        Assert.Null(parked.InfoHash);
        Assert.Equal(1, deleted);
        Assert.DoesNotContain(parked, parkedAfter);
        Assert.Empty(oldHashAgain.Peers);
    }

    /// <summary>Swarms with silent rows under a parked claim (a negative torrent id), of every test of this store.</summary>
    private async Task<SilentSwarm[]> ParkedSwarmsAsync(DateTimeOffset silentBefore) =>
        [.. (await Store.FindSwarmsWithSilentPeersAsync(silentBefore)).Where(swarm => swarm.TorrentId < 0)];

    private async Task<(long TorrentId, InfoHash Hash)> NewTorrentAsync()
    {
        var (torrentId, hash) = (NextId(), InfoHash.Read(UrlBytes.Random20()));
        await Store.PutTorrentAsync(hash, new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        return (torrentId, hash);
    }

    /// <summary>Stores a swarm's peers and departures as an activation's first flush would.</summary>
    private async Task StorePeersAsync(long torrentId, StoredPeer[] peers, DepartedPeer[]? departures = null)
    {
        var claim = await Store.ClaimSwarmAsync(torrentId);
        var flush = Flush(claim, 1, torrentId, 0, 0, peers) with { Peers = new PeerChanges(peers, departures ?? [], []) };
        Assert.Equal(FlushStatus.Applied, (await ApplyAsync(flush)).Status);
    }

    private static StoredPeer Silent(StoredPeer peer, DateTimeOffset lastSeen) => peer with { Entry = peer.Entry with { LastSeen = lastSeen.ToUnixTimeSeconds() } };

    [Fact]
    public async Task ApplyFlushes_HugeSums_SaturateInsteadOfFailingOrWrapping()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);
        var huge = new Traffic(long.MaxValue, 1, long.MaxValue, 1);

        await ApplyAsync(Flush(claim, 1, torrentId, userId, 0, history: [new UserTorrentUsage(userId, torrentId, huge, 0, null, At)]));
        await ApplyAsync(Flush(claim, 2, torrentId, userId, 0, history: [new UserTorrentUsage(userId, torrentId, huge, 0, null, At)]));

        Assert.Equal(new Traffic(long.MaxValue, 2, long.MaxValue, 2), await Store.GetUserTrafficAsync(userId));
    }

    [Fact]
    public async Task PutUserOrTorrent_WithAKeyOfAnotherId_Conflicts_AndChangesNothing()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        var (first, second) = (NextId(), NextId());
        await Store.PutUserAsync(passkey, new UserProfile(first, Multipliers.Neutral, true));
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Store.PutTorrentAsync(hash, new TorrentProfile(first, TorrentStatus.Active, null, Multipliers.Neutral, 0));

        await Assert.ThrowsAsync<SiteConflictException>(async () => await Store.PutUserAsync(passkey, new UserProfile(second, Multipliers.Neutral, true)));
        await Assert.ThrowsAsync<SiteConflictException>(
            async () => await Store.PutTorrentAsync(hash, new TorrentProfile(second, TorrentStatus.Active, null, Multipliers.Neutral, 0)));

        Assert.Equal(first, (await Store.FindUserAsync(passkey.ToUserKey()))!.UserId);
        Assert.Equal(first, (await Store.FindTorrentAsync(hash))!.TorrentId);
    }

    [Fact]
    public async Task PutTorrent_OfAnIdUnderANewInfoHash_MovesTheTorrent()
    {
        var id = NextId();
        var (oldHash, newHash) = (InfoHash.Read(UrlBytes.Random20()), InfoHash.Read(UrlBytes.Random20()));
        var registered = await Store.PutTorrentAsync(oldHash, new TorrentProfile(id, TorrentStatus.Active, null, Multipliers.Neutral, 0));

        var moved = await Store.PutTorrentAsync(newHash, new TorrentProfile(id, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var changed = await Store.PutTorrentAsync(newHash, new TorrentProfile(id, TorrentStatus.Active, null, new Multipliers(1m, 0m), 0));

        // One torrent id is one swarm: under two hashes, two swarms would claim it in turn and fence each other's writes.
        Assert.Null(await Store.FindTorrentAsync(oldHash));
        Assert.Equal(id, (await Store.FindTorrentAsync(newHash))!.TorrentId);
        // The old hash is reported so that its swarm stops serving; a new torrent or a change in place moves nothing.
        Assert.Equal(oldHash, moved);
        Assert.Null(registered);
        Assert.Null(changed);
    }
}

public sealed class InMemorySiteStoreTests : SiteStoreContractTests
{
    public override Task InitializeAsync()
    {
        Store = new InMemorySiteStore();
        return Task.CompletedTask;
    }

    public override Task DisposeAsync() => Task.CompletedTask;
}

public sealed class PostgresSiteStoreTests : SiteStoreContractTests
{
    private readonly FakeLogger<PostgresSiteStore> _log = new();
    private PostgresTestDatabase _database = null!;

    /// <summary>The site's rows are gone, so the credit reaches only the history rows: an operator must hear of it.</summary>
    private protected override void AssertCreditForRowsGoneReported(int users, int torrents)
    {
        var reports = _log.Collector.GetSnapshot().Where(line => line.Message.StartsWith("A statistics write credited", StringComparison.Ordinal)).ToList();
        if (users == 0 && torrents == 0)
        {
            Assert.Empty(reports);
            return;
        }

        Assert.Contains(reports, line => line.Level == LogLevel.Warning && line.Message.StartsWith($"A statistics write credited {users} users and {torrents} torrents the site no longer has rows for", StringComparison.Ordinal));
    }

    public override async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        Store = new PostgresSiteStore(_database.DataSource, Clock, _log);
    }

    public override async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Claim_WaitsForAFlushInProgress_AndReturnsThePeersItWrote()
    {
        var torrentId = 950L;
        var first = await Store.ClaimSwarmAsync(torrentId);
        // A flush of the first claim, holding its swarm row while it writes a peer.
        await using var flushing = await _database.DataSource.OpenConnectionAsync();
        await using var transaction = await flushing.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("select 1 from tracker_swarms where torrent_id = $1 and epoch = $2 for update", flushing, transaction))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = torrentId });
            hold.Parameters.Add(new NpgsqlParameter { Value = first.Epoch });
            Assert.Equal(1, await hold.ExecuteScalarAsync());
        }

        await using (var write = new NpgsqlCommand("""
            insert into tracker_peers (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at)
            values ($1, 951, $2, '10.0.0.1', 6881, 4242, 0, false, false, now(), now())
            """, flushing, transaction))
        {
            write.Parameters.Add(new NpgsqlParameter { Value = torrentId });
            write.Parameters.Add(new NpgsqlParameter { Value = new byte[20] });
            await write.ExecuteNonQueryAsync();
        }

        var second = Store.ClaimSwarmAsync(torrentId).AsTask();
        await Eventually.TrueAsync(
            async () => await _database.ScalarAsync<long>("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()") > 0,
            "the claim waiting for the flush's row lock");
        var claimedDuringTheFlush = second.IsCompleted;
        await transaction.CommitAsync();
        var claim = await second;

        Assert.False(claimedDuringTheFlush);
        Assert.Equal(4242, Assert.Single(claim.Peers).Entry.Uploaded);
        Assert.True(claim.Epoch > first.Epoch);
    }

    [Fact]
    public async Task PasskeyGivenToASecondUser_IsRefused_WithoutPostgreSqlQuotingThePasskey()
    {
        const string passkey = "quotedpasskey0001";
        await _database.ExecuteAsync("insert into users (id, passkey) values (1, $1)", passkey);
        // As a site job or a racing admin request would write it; the detail is what the server writes to its log.
        var builder = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { IncludeErrorDetail = true };
        await using var site = new NpgsqlConnection(builder.ConnectionString);
        await site.OpenAsync();
        await using var insert = new NpgsqlCommand("insert into users (id, passkey) values (2, $1)", site) { Parameters = { new() { Value = passkey } } };

        var refused = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());

        Assert.Equal(PostgresErrorCodes.UniqueViolation, refused.SqlState);
        Assert.DoesNotContain(passkey, refused.Detail ?? "", StringComparison.Ordinal);
        Assert.DoesNotContain(passkey, refused.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyFlushes_OfAStaleClaim_DoNotWaitForTheCurrentClaimsWrite_NorHoldUpTheOtherSwarmsWrittenWithThem()
    {
        // A swarm activated again elsewhere (a silo cut off, then back) while the old activation still flushes: the
        // old silo's write carries the stale flush beside its other swarms' flushes.
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var stale = await Store.ClaimSwarmAsync(torrentId);
        var current = await Store.ClaimSwarmAsync(torrentId);
        var otherTorrent = NextId();
        var otherClaim = await Store.ClaimSwarmAsync(otherTorrent);

        // The current activation's write is in progress, holding its claim's row.
        await using var writing = await _database.DataSource.OpenConnectionAsync();
        await using var transaction = await writing.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("update tracker_swarms set flushed_sequence = 1 where torrent_id = $1 and epoch = $2", writing, transaction))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = torrentId });
            hold.Parameters.Add(new NpgsqlParameter { Value = current.Epoch });
            Assert.Equal(1, await hold.ExecuteNonQueryAsync());
        }

        var staleWrite = Store.ApplyFlushesAsync([Flush(stale, 1, torrentId, userId, 10), Flush(otherClaim, 1, otherTorrent, userId, 1)]).AsTask();
        // Well within the database's command timeout (30 s), which would end the write.
        var wentThrough = await Task.WhenAny(staleWrite, Task.Delay(TimeSpan.FromSeconds(20))) == staleWrite;
        await transaction.RollbackAsync();
        var results = await staleWrite;

        Assert.True(wentThrough, "the stale activation's write waited for the current activation's write");
        Assert.Equal([FlushStatus.Fenced, FlushStatus.Applied], results.Select(r => r.Status));
        Assert.Equal(new Traffic(1, 2, 3, 4), await Store.GetUserTrafficAsync(userId));
    }

    [Fact]
    public async Task ApplyFlushes_AResendOverlappingItsOriginal_WhichCommitsFirst_IsAnsweredAppliedNotFenced()
    {
        // The original write timed out at the silo but still runs in the database, holding its claim advanced to the
        // flush's sequence; the swarm resends the same flush, whose update waits for that row.
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);
        await using var original = await _database.DataSource.OpenConnectionAsync();
        await using var transaction = await original.BeginTransactionAsync();
        await using (var advance = new NpgsqlCommand("update tracker_swarms set flushed_sequence = 1 where torrent_id = $1 and epoch = $2", original, transaction))
        {
            advance.Parameters.Add(new NpgsqlParameter { Value = torrentId });
            advance.Parameters.Add(new NpgsqlParameter { Value = claim.Epoch });
            Assert.Equal(1, await advance.ExecuteNonQueryAsync());
        }

        int originalPid;
        await using (var pid = new NpgsqlCommand("select pg_backend_pid()", original, transaction))
        {
            originalPid = (int)(await pid.ExecuteScalarAsync())!;
        }

        var resend = Store.ApplyFlushesAsync([Flush(claim, 1, torrentId, userId, 10)]).AsTask();
        await Eventually.TrueAsync(
            async () => await _database.ScalarAsync<bool>("select exists (select from pg_stat_activity where $1 = any(pg_blocking_pids(pid)))", originalPid),
            "the resend waiting for the original's claim");
        await transaction.CommitAsync();
        var result = Assert.Single(await resend);

        // Applied by the original: the swarm goes on (a fenced answer would end its activation and drop what it has not
        // written yet), and the resend adds nothing.
        Assert.Equal(FlushStatus.Applied, result.Status);
        Assert.Equal(default, await Store.GetUserTrafficAsync(userId));
        Assert.Equal(1, await _database.ScalarAsync<long>("select flushed_sequence from tracker_swarms where torrent_id = $1", torrentId));
    }

    [Fact]
    public async Task ApplyFlushes_AWriteHeldUpOnOneSwarmsRows_DoesNotHoldUpAnotherSwarmsWriteForTheSameUser()
    {
        // A user seeding on every silo (a seedbox) is credited by every silo's writes: they all update the user's row.
        var (userId, heldUpTorrent) = await NewUserAndTorrentAsync();
        var otherTorrent = NextId();
        await Store.PutTorrentAsync(InfoHash.Read(UrlBytes.Random20()), new TorrentProfile(otherTorrent, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var heldUpClaim = await Store.ClaimSwarmAsync(heldUpTorrent);
        var otherClaim = await Store.ClaimSwarmAsync(otherTorrent);
        await ApplyAsync(Flush(heldUpClaim, 1, heldUpTorrent, userId, 1));

        // The site holds the user's history row of one torrent (its own job updating it), so that swarm's write waits.
        await using var site = await _database.DataSource.OpenConnectionAsync();
        await using var transaction = await site.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("select 1 from user_torrents where user_id = $1 and torrent_id = $2 for update", site, transaction))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = userId });
            hold.Parameters.Add(new NpgsqlParameter { Value = heldUpTorrent });
            Assert.Equal(1, await hold.ExecuteScalarAsync());
        }

        var heldUp = Store.ApplyFlushesAsync([Flush(heldUpClaim, 2, heldUpTorrent, userId, 10)]).AsTask();
        await Eventually.TrueAsync(
            async () => await _database.ScalarAsync<long>("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()") > 0,
            "the held-up write waiting for the history row");

        // Another swarm's write crediting the same user (another silo's, in a cluster) goes through meanwhile.
        var other = Store.ApplyFlushesAsync([Flush(otherClaim, 1, otherTorrent, userId, 100)]).AsTask();
        // Well within the database's command timeout (30 s), which would end both writes.
        var otherWentThrough = await Task.WhenAny(other, Task.Delay(TimeSpan.FromSeconds(20))) == other;
        var heldUpWhileTheOtherWent = !heldUp.IsCompleted;
        await transaction.CommitAsync();
        var heldUpResults = await heldUp;
        var otherResults = await other;

        Assert.True(otherWentThrough, "a write for another swarm waited for the held-up write's user row");
        Assert.True(heldUpWhileTheOtherWent);
        Assert.Equal(FlushStatus.Applied, Assert.Single(heldUpResults).Status);
        Assert.Equal(FlushStatus.Applied, Assert.Single(otherResults).Status);
        Assert.Equal(new Traffic(111, 222, 333, 444), await Store.GetUserTrafficAsync(userId));
    }

    [Fact]
    public async Task ApplyFlushes_DoNotWaitForASiteTransactionThatOnlyReferencesTheUserAndTorrent()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var claim = await Store.ClaimSwarmAsync(torrentId);

        // The site grants the user a freeleech token on the torrent and has not committed yet: its foreign keys hold
        // the user's and the torrent's rows against deletion (a key share lock), not against a change of totals.
        await using var site = await _database.DataSource.OpenConnectionAsync();
        await using var transaction = await site.BeginTransactionAsync();
        await using (var grant = new NpgsqlCommand("insert into freeleech_tokens (user_id, torrent_id, expires_at) values ($1, $2, now() + interval '1 day')", site, transaction))
        {
            grant.Parameters.Add(new NpgsqlParameter { Value = userId });
            grant.Parameters.Add(new NpgsqlParameter { Value = torrentId });
            await grant.ExecuteNonQueryAsync();
        }

        var write = Store.ApplyFlushesAsync([Flush(claim, 1, torrentId, userId, 100)]).AsTask();
        // Well within the database's command timeout (30 s), which would end the write.
        var wentThrough = await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(20))) == write;
        await transaction.CommitAsync();
        var results = await write;

        Assert.True(wentThrough, "the write waited for the site's transaction to end");
        Assert.Equal(FlushStatus.Applied, Assert.Single(results).Status);
        Assert.Equal(new Traffic(100, 200, 300, 400), await Store.GetUserTrafficAsync(userId));
        Assert.Equal(new Traffic(100, 100, 100, 100), await Store.GetTorrentTrafficAsync(torrentId));
    }

    [Fact]
    public async Task ApplyFlushes_AddToHistoryRowsTheSiteMade_AndMakeTheMissingOnesInTheSameWrite()
    {
        var (alice, torrentId) = await NewUserAndTorrentAsync();
        var bob = NextId();
        // Sites make a history row of their own, for example when a user downloads the torrent file.
        await _database.ExecuteAsync(
            $"insert into user_torrents (user_id, torrent_id, raw_uploaded, seeding_seconds, completed_at) values ({alice}, {torrentId}, 1000, 5, '2026-11-01Z')");
        var claim = await Store.ClaimSwarmAsync(torrentId);
        UserTorrentUsage Row(long userId, long bytes) => new(userId, torrentId, new Traffic(bytes, 2 * bytes, 3 * bytes, 4 * bytes), 60, At, At);

        var result = await ApplyAsync(Flush(claim, 1, torrentId, alice, 0, history: [Row(alice, 100), Row(bob, 7)]));

        var alices = (await Store.GetUserTorrentAsync(alice, torrentId))!.Value;
        Assert.Equal(new Traffic(1100, 200, 300, 400), alices.Traffic);
        Assert.Equal(65, alices.SeedingSeconds);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), alices.CompletedAt);
        Assert.Equal(At, alices.LastAnnounceAt);
        var bobs = (await Store.GetUserTorrentAsync(bob, torrentId))!.Value;
        Assert.Equal(new Traffic(7, 14, 21, 28), bobs.Traffic);
        Assert.Equal(60, bobs.SeedingSeconds);
        Assert.Equal(At, bobs.CompletedAt);
        Assert.Equal(At, bobs.LastAnnounceAt);
        Assert.Equal(1, result.SnatchesCounted);
    }

    [Fact]
    public async Task ApplyFlushes_FindEveryRowByItsKey_NeverScanningAWholeTable()
    {
        await using var oneConnection = StoreOnOneConnection();
        var swarms = new List<(long UserId, long TorrentId, SwarmClaim Claim)>();
        for (var i = 0; i < 20; i++)
        {
            var (userId, torrentId) = await NewUserAndTorrentAsync();
            swarms.Add((userId, torrentId, await Store.ClaimSwarmAsync(torrentId)));
        }

        await Store.ApplyFlushesAsync([.. swarms.Select(s => Flush(s.Claim, 1, s.TorrentId, s.UserId, 10, peers: [Peer(s.UserId, 1, 100), Peer(s.UserId, 2, 100)]))]);
        var scansBefore = await TableStatisticsAsync(oneConnection, WholeTableScansSql);

        // A write of every kind of row a flush touches: a peer changed, one gone, a departure forgotten, history with a
        // completion, the users' and torrents' totals, the swarms' claims.
        var results = await Store.ApplyFlushesAsync(
        [
            .. swarms.Select(s => Flush(s.Claim, 2, s.TorrentId, s.UserId, 0, history: [new UserTorrentUsage(s.UserId, s.TorrentId, new Traffic(5, 5, 5, 5), 60, At, At)]) with
            {
                Peers = new PeerChanges(
                    [Peer(s.UserId, 1, 150)],
                    [new DepartedPeer(new PeerKey(Peer(s.UserId, 2, 0).Entry.PeerId, s.UserId), 77, At.ToUnixTimeSeconds())],
                    [new PeerKey(Peer(s.UserId, 3, 0).Entry.PeerId, s.UserId)]),
            }),
        ]);
        var scansAfter = await TableStatisticsAsync(oneConnection, WholeTableScansSql);

        Assert.All(results, result => Assert.Equal(new FlushResult(FlushStatus.Applied, 1), result));
        Assert.Equal(new Traffic(15, 25, 35, 45), await Store.GetUserTrafficAsync(swarms[0].UserId));
        Assert.Empty(scansAfter.Where(table => table.Value != scansBefore[table.Key]).Select(table => $"{table.Key} scanned whole"));
    }

    [Fact]
    public async Task FindTorrent_ReadsItsOwnTokens_NotEveryTokenOfTheSite()
    {
        // A site with 20,000 freeleech tokens on other torrents (200 users, 100 torrents), and one on this torrent.
        await _database.ExecuteAsync("insert into users (id, passkey) select 100000 + u, 'tokenuser' || u from generate_series(1, 200) u");
        await _database.ExecuteAsync(
            "insert into torrents (id, info_hash) select 100000 + t, substring(sha256(t::text::bytea) from 1 for 20) from generate_series(1, 100) t");
        await _database.ExecuteAsync(
            "insert into freeleech_tokens select 100000 + u, 100000 + t, now() + interval '1 day' from generate_series(1, 200) u, generate_series(1, 100) t");
        var (userId, torrentId) = (NextId(), NextId());
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Store.PutUserAsync(new Passkey(Guid.NewGuid().ToString("N")), new UserProfile(userId, Multipliers.Neutral, true));
        await Store.PutTorrentAsync(hash, new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        await _database.ExecuteAsync($"insert into freeleech_tokens values ({userId}, {torrentId}, now() + interval '1 day')");
        await _database.ExecuteAsync("analyze freeleech_tokens");
        await using var oneConnection = StoreOnOneConnection();
        var pagesBefore = await TableStatisticsAsync(oneConnection, PagesReadSql);

        var profile = await Store.FindTorrentAsync(hash);
        var pagesAfter = await TableStatisticsAsync(oneConnection, PagesReadSql);

        Assert.Equal([userId], profile!.FreeleechTokens!.Keys);
        // A few pages of an index and the table; the tokens' table and its primary key are well over a hundred.
        Assert.InRange(pagesAfter["freeleech_tokens"] - pagesBefore["freeleech_tokens"], 1, 10);
    }

    /// <summary>The store on one connection, so the table statistics read through it are that backend's own.</summary>
    private NpgsqlDataSource StoreOnOneConnection()
    {
        var oneConnection = DatabaseRegistration.CreateDataSource(
            new NpgsqlConnectionStringBuilder(_database.ConnectionString) { MaxPoolSize = 1 }.ConnectionString);
        Store = new PostgresSiteStore(oneConnection, Clock, _log);
        return oneConnection;
    }

    private const string WholeTableScansSql = "select relname, seq_scan from pg_stat_user_tables";

    private const string PagesReadSql =
        "select relname, heap_blks_read + heap_blks_hit + coalesce(idx_blks_read, 0) + coalesce(idx_blks_hit, 0) from pg_statio_user_tables";

    /// <summary>A figure per table (<paramref name="sql"/> selects name and figure), read after the connection's own statistics are flushed.</summary>
    private static async Task<Dictionary<string, long>> TableStatisticsAsync(NpgsqlDataSource oneConnection, string sql)
    {
        await using var connection = await oneConnection.OpenConnectionAsync();
        await using (var flushStatistics = new NpgsqlCommand("select pg_stat_force_next_flush()", connection))
        {
            await flushStatistics.ExecuteNonQueryAsync();
        }

        await using var read = new NpgsqlCommand(sql, connection);
        await using var reader = await read.ExecuteReaderAsync();
        var figures = new Dictionary<string, long>();
        while (await reader.ReadAsync())
        {
            figures[reader.GetString(0)] = reader.GetInt64(1);
        }

        return figures;
    }

    [Fact]
    public async Task FindTorrent_ReadsUnexpiredFreeleechTokens()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Store.PutTorrentAsync(hash, new TorrentProfile(900, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        await Store.PutUserAsync(new Passkey(Guid.NewGuid().ToString("N")), new UserProfile(901, Multipliers.Neutral, true));
        await Store.PutUserAsync(new Passkey(Guid.NewGuid().ToString("N")), new UserProfile(902, Multipliers.Neutral, true));
        await _database.ExecuteAsync("insert into freeleech_tokens values (901, 900, now() + interval '1 day'), (902, 900, now() - interval '1 day')");

        var profile = await Store.FindTorrentAsync(hash);

        Assert.NotNull(profile!.FreeleechTokens);
        Assert.True(profile.FreeleechTokens.ContainsKey(901));
        Assert.False(profile.FreeleechTokens.ContainsKey(902));
        Assert.Equal(0m, profile.For(901, Multipliers.Neutral, DateTimeOffset.UtcNow).Download);
        Assert.Equal(1m, profile.For(902, Multipliers.Neutral, DateTimeOffset.UtcNow).Download);
    }

    [Fact]
    public async Task FindUser_ReadsPersonalFreeleech()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Store.PutUserAsync(passkey, new UserProfile(903, Multipliers.Neutral, true));
        await _database.ExecuteAsync("update users set freeleech_until = now() + interval '1 hour' where id = 903");

        var profile = await Store.FindUserAsync(passkey.ToUserKey());

        Assert.Equal(0m, profile!.MultipliersAt(DateTimeOffset.UtcNow).Download);
        Assert.Equal(1m, profile.MultipliersAt(DateTimeOffset.UtcNow.AddHours(2)).Download);
    }

    [Fact]
    public async Task PutUser_AsTheAdminApiDoes_KeepsThePersonalFreeleechTheSiteSet()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Store.PutUserAsync(passkey, new UserProfile(904, Multipliers.Neutral, true));
        await _database.ExecuteAsync("update users set freeleech_until = now() + interval '1 hour' where id = 904");

        // A change of what the admin API describes (its document has no freeleech).
        await Store.PutUserAsync(passkey, new UserProfile(904, new Multipliers(2m, 1m), false));
        var profile = await Store.FindUserAsync(passkey.ToUserKey());

        Assert.Equal(new Multipliers(2m, 0m), profile!.MultipliersAt(DateTimeOffset.UtcNow));
        Assert.False(profile.CanLeech);
    }
}
