using System.Net;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Users;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

[Collection(ClusterCollection.Name)]
public sealed class TrackerGrainsTests(ClusterFixture fixture)
{
    private static long _nextId = 1000;

    private readonly IGrainFactory _grains = fixture.Grains;

    // The silo runs in this process: its site store, for statistics no view of the admin API shows any more.
    private readonly ISiteStore _siteStore = ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost.Services.GetRequiredService<ISiteStore>();

    private ISiteAdminGrain Admin => _grains.GetGrain<ISiteAdminGrain>(0);

    private static long NextId() => Interlocked.Increment(ref _nextId);

    private static Passkey NewPasskey() => new(Guid.NewGuid().ToString("N"));

    private static AnnounceCommand Command(UserProfile user, Passkey passkey, int peer, long up, long down, long left, AnnounceEvent ev = AnnounceEvent.None) => new(
        PeerId.Read([.. BitConverter.GetBytes(peer), .. new byte[16]]),
        PeerEndpoint.From(IPAddress.Parse("10.1.1.1"), 5000 + peer),
        up,
        down,
        left,
        ev,
        50,
        false,
        passkey.ToUserKey(),
        UnixMicroseconds.From(ClusterFixture.Clock.GetUtcNow()));

    private async Task<(InfoHash Hash, ITorrentGrain Grain)> NewTorrentAsync(Multipliers multipliers)
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(hash, new TorrentProfile(NextId(), TorrentStatus.Active, null, multipliers, 0));
        return (hash, _grains.GetGrain<ITorrentGrain>(hash.ToGrainKey()));
    }

    private async Task<(Passkey Passkey, UserProfile Profile)> NewUserAsync(Multipliers multipliers, bool canLeech = true)
    {
        var passkey = NewPasskey();
        var profile = new UserProfile(NextId(), multipliers, canLeech);
        await Admin.PutUser(passkey, profile);
        return (passkey, profile);
    }

    [Fact]
    public async Task TorrentGrainReferences_ReachTheSwarmOfTheInfoHash_AsItsHexKeyDoes()
    {
        var (hash, grain) = await NewTorrentAsync(Multipliers.Neutral);
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var reference = new TorrentGrainReferences(_grains, fixture.Cluster.Client.ServiceProvider.GetRequiredService<GrainInterfaceTypeResolver>()).For(hash);

        Assert.Equal(grain.GetGrainId(), reference.GetGrainId());
        Assert.Equal(AnnounceStatus.Accepted, (await reference.Announce(Command(user, passkey, 1, 0, 0, 100))).Status);
        Assert.Equal(1, (await grain.Scrape()).Incomplete);
    }

    [Fact]
    public async Task Announce_UnregisteredTorrent_IsRefused()
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var grain = _grains.GetGrain<ITorrentGrain>(InfoHash.Read(UrlBytes.Random20()).ToGrainKey());

        var result = await grain.Announce(Command(user, passkey, 1, 0, 0, 10));

        Assert.Equal(AnnounceStatus.TorrentNotRegistered, result.Status);
        Assert.False((await grain.Scrape()).IsRegistered);
    }

    [Fact]
    public async Task PutTorrent_DeletedThenActive_ReachesTheCachedGrainAtOnce()
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var (hash, grain) = await NewTorrentAsync(Multipliers.Neutral);
        Assert.Equal(AnnounceStatus.Accepted, (await grain.Announce(Command(user, passkey, 1, 0, 0, 10))).Status);
        // The torrent's own id: under another id the swarm would retire and a new activation answer.
        var registered = (await grain.GetProfile())!;

        await Admin.PutTorrent(hash, registered with { Status = TorrentStatus.Deleted, DeletedReason = "dupe of #41" });
        var refused = await grain.Announce(Command(user, passkey, 1, 0, 0, 10));
        await Admin.PutTorrent(hash, registered);
        var accepted = await grain.Announce(Command(user, passkey, 1, 0, 0, 10));

        Assert.Equal(AnnounceStatus.TorrentDeleted, refused.Status);
        Assert.Equal("dupe of #41", refused.Reason);
        Assert.Equal(AnnounceStatus.Accepted, accepted.Status);
    }

    [Fact]
    public async Task PutAndRemoveUser_ReachTheCachedUserAtOnce()
    {
        var passkey = NewPasskey();
        var users = _grains.GetGrain<IUserDirectoryGrain>(0);
        Assert.Null(await users.FindUser(passkey.ToUserKey()));

        await Admin.PutUser(passkey, new UserProfile(NextId(), Multipliers.Neutral, true));
        var added = await users.FindUser(passkey.ToUserKey());
        await Admin.PutUser(passkey, added! with { CanLeech = false });
        var changed = await users.FindUser(passkey.ToUserKey());
        await Admin.RemoveUser(passkey);

        Assert.NotNull(added);
        Assert.False(changed!.CanLeech);
        Assert.Null(await users.FindUser(passkey.ToUserKey()));
    }

    [Fact]
    public async Task FlushUsage_WritesRawAndCreditedTrafficToUserAndTorrent()
    {
        var (passkey, user) = await NewUserAsync(new Multipliers(1m, 0.5m));
        var (hash, grain) = await NewTorrentAsync(new Multipliers(2m, 1m));
        await grain.Announce(Command(user, passkey, 1, 0, 0, 1000, AnnounceEvent.Started));
        await grain.Announce(Command(user, passkey, 1, 100, 301, 699));
        await grain.Announce(Command(user, passkey, 1, 250, 1000, 0, AnnounceEvent.Completed));

        await grain.FlushUsage();

        var userView = await Admin.GetUser(passkey);
        Assert.Equal(new Traffic(250, 1000, 500, 499), userView!.Traffic);
        var torrentView = await Admin.GetTorrent(hash);
        Assert.Equal(new Traffic(250, 1000, 500, 499), torrentView!.Traffic);
        Assert.Equal(1, torrentView.Profile.Snatches);
        Assert.Equal(1, torrentView.Swarm.Downloaded);
        Assert.Equal(1, torrentView.Swarm.Complete);
    }

    [Fact]
    public async Task Announce_ReachesTheSiteThroughTheFlushTimers_NotBefore()
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var (_, grain) = await NewTorrentAsync(Multipliers.Neutral);
        await grain.Announce(Command(user, passkey, 1, 0, 0, 10));
        await grain.Announce(Command(user, passkey, 1, 5, 7, 3));

        var beforeFlush = (await Admin.GetUser(passkey))!.Traffic;
        // The swarm's timer writes it to the site.
        var afterFlush = await Eventually.ValueAsync(
            async () =>
            {
                ClusterFixture.Clock.Advance(ClusterFixture.FlushInterval);
                return (await Admin.GetUser(passkey))!.Traffic;
            },
            traffic => !traffic.IsZero);

        Assert.True(beforeFlush.IsZero);
        Assert.Equal(new Traffic(5, 7, 5, 7), afterFlush);
    }

    [Theory]
    [InlineData(-6)]
    // A gateway's clock that far ahead: applied, its stamp would make the peer's next announces through other
    // gateways look received earlier, and be skipped as late tries.
    [InlineData(6)]
    public async Task Announce_StampedMoreThanFiveMinutesFromTheSwarmsClock_IsRefusedAndChangesNothing(int minutes)
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var (hash, grain) = await NewTorrentAsync(Multipliers.Neutral);
        await grain.Announce(Command(user, passkey, 1, 0, 0, 10));
        var stale = Command(user, passkey, 1, 500, 500, 10) with
        {
            ReceivedAt = UnixMicroseconds.From(ClusterFixture.Clock.GetUtcNow() + TimeSpan.FromMinutes(minutes)),
        };

        var refused = await grain.Announce(stale);
        var next = await grain.Announce(Command(user, passkey, 1, 100, 100, 10));
        await grain.FlushUsage();

        Assert.Equal(AnnounceStatus.TooOld, refused.Status);
        Assert.Equal(AnnounceStatus.Accepted, next.Status);
        Assert.Equal(new Traffic(100, 100, 100, 100), (await Admin.GetTorrent(hash))!.Traffic);
    }

    [Fact]
    public async Task Torrent_ReRegisteredUnderAnotherId_OldSwarmWritesWhatItHeld_AndTheNewIdGetsWhatFollows()
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var (hash, grain) = await NewTorrentAsync(Multipliers.Neutral);
        var oldId = (await grain.GetProfile())!.TorrentId;
        await grain.Announce(Command(user, passkey, 1, 0, 0, 10));
        await grain.Announce(Command(user, passkey, 1, 40, 0, 10));

        // The site gives the info hash a new id (removing the old torrent first: an info hash is one torrent's): the swarm
        // of the old one writes its 40 bytes there and goes.
        var newId = NextId();
        Assert.True(await Admin.RemoveTorrent(hash));
        await Admin.PutTorrent(hash, new TorrentProfile(newId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var reply = await Eventually.ValueAsync(
            async () => await grain.Announce(Command(user, passkey, 1, 50, 0, 10)),
            result => result.Status == AnnounceStatus.Accepted);
        await grain.Announce(Command(user, passkey, 1, 70, 0, 10));
        await grain.FlushUsage();

        // The new id's swarm takes the old one's stored peer over, so the announce at 50 credits the 10 bytes since 40.
        Assert.Equal(AnnounceStatus.Accepted, reply.Status);
        Assert.Equal(newId, (await grain.GetProfile())!.TorrentId);
        Assert.Equal(40, (await _siteStore.GetTorrentTrafficAsync(oldId)).RawUploaded);
        Assert.Equal(30, (await Admin.GetTorrent(hash))!.Traffic.RawUploaded);
        Assert.Equal(70, (await _siteStore.GetUserTrafficAsync(user.UserId)).RawUploaded);
    }

    [Fact]
    public async Task Torrent_GivenANewInfoHashUnderItsId_TheNewHashsSwarmStartsWithoutTheOldHashsPeers()
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var (oldHash, oldGrain) = await NewTorrentAsync(Multipliers.Neutral);
        var id = (await oldGrain.GetProfile())!.TorrentId;
        await oldGrain.Announce(Command(user, passkey, 1, 0, 0, 10));
        await oldGrain.FlushUsage();

        // A re-upload that keeps the torrent's page: the site gives its id the new file's info hash.
        var newHash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(newHash, new TorrentProfile(id, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var reply = await Eventually.ValueAsync(
            async () => await _grains.GetGrain<ITorrentGrain>(newHash.ToGrainKey()).Announce(Command(user, passkey, 2, 0, 0, 10)),
            result => result.Status == AnnounceStatus.Accepted);

        // The old file's client would be handed out as a peer of the new one, and counted in its swarm.
        Assert.Equal(1, reply.Leechers);
        Assert.Empty(reply.Peers4);
        Assert.Null(await Admin.GetTorrent(oldHash));
        // The old hash's swarm, active on this silo, hears of it at once (not at its periodic re-read): no more credit
        // to the id under its old file.
        Assert.Equal(AnnounceStatus.TorrentNotRegistered, (await oldGrain.Announce(Command(user, passkey, 1, 0, 0, 10))).Status);
    }

    [Fact]
    public async Task Scrape_CountsSeedersLeechersAndSnatches()
    {
        var (passkey, user) = await NewUserAsync(Multipliers.Neutral);
        var (_, grain) = await NewTorrentAsync(Multipliers.Neutral);
        await grain.Announce(Command(user, passkey, 1, 0, 0, 0, AnnounceEvent.Started));
        await grain.Announce(Command(user, passkey, 2, 0, 0, 10, AnnounceEvent.Started));
        await grain.Announce(Command(user, passkey, 3, 0, 0, 10, AnnounceEvent.Started));
        await grain.Announce(Command(user, passkey, 3, 0, 10, 0, AnnounceEvent.Completed));

        var counts = await grain.Scrape();

        Assert.Equal(new TorrentCounts(true, 2, 1, 1), counts);
    }

    [Fact]
    public async Task UnknownKeys_AreDroppedFromMemoryAfterTheirLifetime()
    {
        var management = _grains.GetGrain<IManagementGrain>(0);
        var users = ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost.Services.GetRequiredService<UserDirectory>();
        var junk = Enumerable.Range(0, 20).Select(_ => InfoHash.Read(UrlBytes.Random20()).ToGrainKey()).ToList();
        var junkUsers = junk.Select(key => new Passkey(key).ToUserKey()).ToList();
        foreach (var (key, user) in junk.Zip(junkUsers))
        {
            await _grains.GetGrain<ITorrentGrain>(key).Scrape();
            await _grains.GetGrain<IUserDirectoryGrain>(0).FindUser(user);
        }

        var before = (Swarms: await ActivationsAsync(management, junk), Users: junkUsers.Count(users.Holds));
        ClusterFixture.Clock.Advance(ClusterFixture.UnknownKeyLifetime);
        var after = await Eventually.ValueAsync(
            async () => (Swarms: await ActivationsAsync(management, junk), Users: junkUsers.Count(users.Holds)),
            counts => counts == (0, 0));

        Assert.Equal((20, 20), before);
        Assert.Equal((0, 0), after);
    }

    private static async Task<int> ActivationsAsync(IManagementGrain management, List<string> keys)
    {
        var statistics = await management.GetDetailedGrainStatistics();
        return statistics.Count(s => keys.Any(key => s.GrainId.ToString().Contains(key[..32], StringComparison.Ordinal)));
    }
}
