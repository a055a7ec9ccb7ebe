using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// Reads of the site that answer late, as a slow or absent database's do. A periodic reload and a change notice's
/// reload of the same grain overlap (the periodic one is interleaved); held reads make the older one answer last, and
/// the grain must keep the newer answer: a revoked user or a deleted torrent must not come back until the next reload.
/// And a swarm waiting for one user's first read goes on answering its other users.
/// </summary>
public sealed class HeldReadTests : ReadHoldingCluster<HeldReadTests.Silo>
{
    [Fact]
    public async Task Refresh_DeletedTorrent_AnOlderPeriodicReadFinishingLaterDoesNotBringItBack()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        var user = new UserProfile(501, Multipliers.Neutral, true);
        await Admin.PutUser(passkey, user);
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(hash, new TorrentProfile(502, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        AnnounceCommand Announce() => new(
            PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, 0, 10, AnnounceEvent.None, 10, false, passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow));
        Assert.Equal(AnnounceStatus.Accepted, (await torrent.Announce(Announce())).Status);

        // A periodic reload reads the torrent while it is still active, and its answer is held.
        var olderRead = Store.HoldNextRead(hash.ToGrainKey());
        await olderRead.Read.WaitAsync(Deadline);
        // The site deletes it; the notice's reload reads and applies that.
        await Admin.PutTorrent(hash, new TorrentProfile(502, TorrentStatus.Deleted, "dupe", Multipliers.Neutral, 0));
        // The older answer arrives last. Timer ticks never overlap, so once the next periodic read has started,
        // the older reload has finished; that next one is held so it cannot repair anything before the check.
        var nextRead = Store.HoldNextRead(hash.ToGrainKey());
        olderRead.Release();
        await nextRead.Read.WaitAsync(Deadline);

        var result = await torrent.Announce(Announce());
        nextRead.Release();

        Assert.Equal(AnnounceStatus.TorrentDeleted, result.Status);
    }

    [Fact]
    public async Task Refresh_RemovedUser_AnOlderPeriodicReadFinishingLaterDoesNotBringItBack()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Admin.PutUser(passkey, new UserProfile(503, Multipliers.Neutral, true));
        var users = Cluster.GrainFactory.GetGrain<IUserDirectoryGrain>(0);
        Assert.NotNull(await users.FindUser(passkey.ToUserKey()));

        // A periodic sweep reads the user while it still exists, and its answer is held.
        var olderRead = Store.HoldNextRead(passkey.ToUserKey().ToHex());
        await olderRead.Read.WaitAsync(Deadline);
        await Admin.RemoveUser(passkey);
        // Sweeps never overlap, so once the next one's read has started, the older read has been answered.
        var nextRead = Store.HoldNextRead(passkey.ToUserKey().ToHex());
        olderRead.Release();
        await nextRead.Read.WaitAsync(Deadline);

        var profile = await users.FindUser(passkey.ToUserKey());
        nextRead.Release();

        Assert.Null(profile);
    }

    [Fact]
    public async Task Announce_WhileAnotherUsersFirstReadIsHeld_CachedUsersAreStillAnswered()
    {
        var waiting = new Passkey(Guid.NewGuid().ToString("N"));
        var cached = new Passkey(Guid.NewGuid().ToString("N"));
        await Admin.PutUser(waiting, new UserProfile(504, Multipliers.Neutral, true));
        await Admin.PutUser(cached, new UserProfile(505, Multipliers.Neutral, true));
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(hash, new TorrentProfile(506, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        AnnounceCommand Announce(Passkey passkey, byte peer) => new(
            PeerId.Read(Enumerable.Repeat(peer, 20).ToArray()), PeerEndpoint.From(IPAddress.Loopback, 6881 + peer), 0, 0, 10, AnnounceEvent.Started, 10, false,
            passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow));
        Assert.Equal(AnnounceStatus.Accepted, (await torrent.Announce(Announce(cached, 1))).Status);

        // The other user is new to this silo: the swarm must read it, and the database is slow to answer.
        var firstRead = Store.HoldNextRead(waiting.ToUserKey().ToHex());
        var waitingAnnounce = torrent.Announce(Announce(waiting, 2)).AsTask();
        await firstRead.Read.WaitAsync(Deadline);

        // The cached user's next announce is answered meanwhile, and still sees the swarm as it is.
        var meanwhile = await torrent.Announce(Announce(cached, 1)).AsTask().WaitAsync(Deadline);
        firstRead.Release();
        // Answered once the read is (or, had this machine stalled past SiteOptions.UserReadWait, refused as
        // unavailable, and then answered as a client's next try would be).
        var late = await Record.ExceptionAsync(() => waitingAnnounce) is SiteUnavailableException
            ? await torrent.Announce(Announce(waiting, 2)).AsTask().WaitAsync(Deadline)
            : await waitingAnnounce;

        Assert.Equal(AnnounceStatus.Accepted, meanwhile.Status);
        Assert.Equal(1, meanwhile.Leechers);
        Assert.Equal(AnnounceStatus.Accepted, late.Status);
        Assert.Equal(2, late.Leechers);
    }

    [Fact]
    public async Task Announce_WhoseUsersReadDoesNotAnswer_FailsWithinTheReadWait_AndTheUserIsServedOnceItAnswers()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Admin.PutUser(passkey, new UserProfile(507, Multipliers.Neutral, true));
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Admin.PutTorrent(hash, new TorrentProfile(508, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        AnnounceCommand Announce() => new(
            PeerId.Read(new byte[20]), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, 0, 10, AnnounceEvent.Started, 10, false,
            passkey.ToUserKey(), UnixMicroseconds.From(DateTimeOffset.UtcNow));

        // The database takes the read and does not answer (a failover): the announce must not hold its swarm's
        // deactivation, which waits for running requests, for as long as that lasts.
        var read = Store.HoldNextRead(passkey.ToUserKey().ToHex());
        using var deadline = new CancellationTokenSource(Deadline);
        var unanswered = await Record.ExceptionAsync(() => torrent.Announce(Announce()).AsTask().WaitAsync(deadline.Token));
        read.Release();
        var once = await Eventually.ValueAsync(
            async () => (await Record.ExceptionAsync(() => torrent.Announce(Announce()).AsTask())) is null,
            answered => answered);

        Assert.IsType<SiteUnavailableException>(unanswered);
        Assert.True(read.Read.IsCompleted);
        Assert.True(once);
    }

    [Fact]
    public async Task FindUser_WhoseReadDoesNotAnswer_FailsWithinTheReadWait()
    {
        // What a scrape asks: bounded as an announce's wait is, so a failover's hung read does not hold a scrape for as
        // long as it lasts (nor the gateway's response timeout, which it would take for a dead silo and send again).
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Admin.PutUser(passkey, new UserProfile(511, Multipliers.Neutral, true));
        var directory = Cluster.GrainFactory.GetGrain<IUserDirectoryGrain>(0);
        var read = Store.HoldNextRead(passkey.ToUserKey().ToHex());
        try
        {
            var unanswered = await Record.ExceptionAsync(() => directory.FindUser(passkey.ToUserKey()).AsTask().WaitAsync(Deadline));

            Assert.IsType<SiteUnavailableException>(unanswered);
        }
        finally
        {
            read.Release();
        }
    }

    public sealed class Silo : ReadHoldingSilo
    {
        protected override void ConfigureOptions(IServiceCollection services)
        {
            services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromHours(1));
            // Periodic reloads come quickly, so the test waits little for one to start.
            services.Configure<SiteOptions>(options => options.RefreshInterval = TimeSpan.FromMilliseconds(100));
        }
    }
}
