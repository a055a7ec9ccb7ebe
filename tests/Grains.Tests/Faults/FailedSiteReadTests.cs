using System.Net;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.Grains.Users;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// The site changes a user or a torrent (through SQL alone, so its notice comes from the database), and the silo's
/// re-read of it fails, as at a failover's moment. The change must still take effect as soon as the site can be read:
/// a revoked user is not served from the answer held before the change, and a removed torrent is read again within
/// seconds, not at the periodic re-read an hour on. The client list, which has no re-read of its own, is read again
/// soon after its re-read failed, and every minute whatever the notices say (a notice can be lost).
/// </summary>
public sealed class FailedSiteReadTests : FaultInjectingPostgresCluster<FailedSiteReadTests.UsualSilo>
{
    protected override Task PrepareDatabaseAsync() => Database.ExecuteAsync("insert into users (id, passkey) values (1, 'failedsitereads01')");

    [Fact]
    public async Task UserTheSiteChanged_WhileItsReReadFails_IsNotServedAsItWas_AndIsReadAtItsNextUse()
    {
        var torrent = await NewTorrentAsync(1);
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(torrent)).Status);

        var failedBefore = Store.FailedReads;
        Store.ReadsFail = true;
        await Database.ExecuteAsync("update users set can_leech = false where id = 1");
        await Eventually.TrueAsync(() => Task.FromResult(Store.FailedReads > failedBefore), "the notice's re-read of the user failed");
        await Eventually.TrueAsync(
            () => Task.FromResult(!Silo.GetRequiredService<UserDirectory>().TryGet(UserKey, out _)), "the user no longer answered from the directory");
        var whileUnreadable = await Record.ExceptionAsync(() => AnnounceAsync(torrent));
        Store.ReadsFail = false;
        // A read that failed stays the answer for a moment (announces fail fast while the database is down).
        var onceReadable = await Eventually.ValueAsync(() => AnnounceOrNullWhileUnavailableAsync(torrent), reply => reply is not null);

        // Answered from before the change, the leecher would have been accepted while the site refuses it. Refused as
        // unavailable, with the database's reason: not the store's TimeoutException, which the gateway would take for a
        // silo gone and send again for 10 s, nor an error it logs with a stack trace per announce.
        Assert.IsType<SiteUnavailableException>(whileUnreadable);
        Assert.Contains("injected", whileUnreadable.Message, StringComparison.Ordinal);
        Assert.Equal(AnnounceStatus.LeechingNotAllowed, onceReadable?.Status);
    }

    [Fact]
    public async Task TorrentTheSiteRemoved_WhileItsReReadFails_IsReadAgainWithinSeconds()
    {
        var torrent = await NewTorrentAsync(2);
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(torrent)).Status);

        var failedBefore = Store.FailedReads;
        Store.ReadsFail = true;
        await Database.ExecuteAsync("update torrents set status = 'deleted', deleted_reason = 'dupe' where id = 2");
        await Eventually.TrueAsync(() => Task.FromResult(Store.FailedReads > failedBefore), "the notice's re-read of the torrent failed");
        Store.ReadsFail = false;
        var beforeTheRetry = await AnnounceAsync(torrent);
        // Steps of the retry's pause, for a minute: the next periodic re-read is an hour away. (The failed re-read
        // schedules its retry as its answer comes back, which may be after the failure was counted.)
        var afterTheRetry = beforeTheRetry;
        for (var waited = TimeSpan.Zero; waited < TimeSpan.FromMinutes(1) && afterTheRetry.Status == AnnounceStatus.Accepted; waited += TorrentGrain.ChangedProfileRetry)
        {
            await TickAsync(TorrentGrain.ChangedProfileRetry);
            afterTheRetry = await Eventually.ValueAsync(() => AnnounceAsync(torrent), reply => reply.Status != AnnounceStatus.Accepted, TimeSpan.FromSeconds(2));
        }

        Assert.Equal(AnnounceStatus.Accepted, beforeTheRetry.Status);
        Assert.Equal(AnnounceStatus.TorrentDeleted, afterTheRetry.Status);
        Assert.Equal("dupe", afterTheRetry.Reason);
    }

    [Fact]
    public async Task TorrentTheSiteChanged_WhileTheDatabaseStaysAway_IsReReadLessAndLessOften_ThenOnceAMinute()
    {
        var torrent = await NewTorrentAsync(6);
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(torrent)).Status);

        Store.ReadsFail = true;
        await Database.ExecuteAsync("update torrents set status = 'deleted' where id = 6");
        await Eventually.TrueAsync(() => Task.FromResult(Store.ReadsOf(torrent) >= 2), "the notice's re-read of the torrent failed");
        var readsAtTheNotice = Store.ReadsOf(torrent);
        // Retries 5 s apart, doubling (each a fifth either way) up to a minute: about 5, 15, 35, 75 and 135 s after it.
        for (var second = 0; second < 180; second++)
        {
            await TickAsync(TimeSpan.FromSeconds(1));
        }

        var retriesInThreeMinutes = Store.ReadsOf(torrent) - readsAtTheNotice;
        for (var seconds = 0; seconds < 300; seconds += 5)
        {
            await TickAsync(TimeSpan.FromSeconds(5));
        }

        var retriesInTheNextFiveMinutes = Store.ReadsOf(torrent) - readsAtTheNotice - retriesInThreeMinutes;
        Store.ReadsFail = false;

        // Every 5 s, a silo's every swarm (a failed catch-up re-reads them all) would read 36 times in three minutes.
        Assert.InRange(retriesInThreeMinutes, 4, 6);
        Assert.InRange(retriesInTheNextFiveMinutes, 4, 6);
    }

    [Fact]
    public async Task TorrentsTheSiteChanged_WhileTheDatabaseIsAway_LogTheirFailedReReadsAsOneLineEvery10Seconds()
    {
        const int Torrents = 8;
        var torrents = new List<InfoHash>();
        for (var id = 10; id < 10 + Torrents; id++)
        {
            torrents.Add(await NewTorrentAsync(id));
            Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(torrents[^1])).Status);
        }

        Store.ReadsFail = true;
        await Database.ExecuteAsync($"update torrents set status = 'deleted' where id between 10 and {10 + Torrents - 1}");
        await Eventually.TrueAsync(() => Task.FromResult(torrents.All(torrent => Store.ReadsOf(torrent) >= 2)), "every notice's re-read failed");
        var readsAtTheNotices = torrents.Sum(Store.ReadsOf);
        // Each retries 4 to 6 s on: eight failed re-reads within 10 s.
        for (var second = 0; second < 7; second++)
        {
            await TickAsync(TimeSpan.FromSeconds(1));
        }

        var retries = torrents.Sum(Store.ReadsOf) - readsAtTheNotices;
        Store.ReadsFail = false;
        var lines = Silo.GetRequiredService<FakeLogCollector>().GetSnapshot();

        Assert.Equal(Torrents, retries);
        // A line per swarm and retry was thousands a minute for a silo's swarms after a failed catch-up.
        Assert.InRange(lines.Count(line => line.Message.StartsWith("Re-reading torrents from the site failed", StringComparison.Ordinal)), 1, 2);
        Assert.DoesNotContain(lines, line => line.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task ClientListTheSiteChanged_WhileItsReReadFails_IsReadAgainAtTheListenersNextWakeUp()
    {
        var torrent = await NewTorrentAsync(4);
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(torrent)).Status);

        var failedBefore = Store.FailedReads;
        Store.ReadsFail = true;
        await AllowOnlyAnotherClientAsync();
        await Eventually.TrueAsync(() => Task.FromResult(Store.FailedReads > failedBefore), "the notice's re-read of the client list failed");
        Store.ReadsFail = false;
        // The next probe notice wakes the listener, well within the minute of the list's own re-read. (The listener may
        // also retry at once, if the failed read's notice woke its loop too: a CI run once saw that, so whether the
        // list is still unread before the probe is not asserted.)
        Clock.Advance(SiteChangeListener.ProbeInterval);
        var afterTheRetry = await Eventually.ValueAsync(() => AnnounceAsync(torrent), reply => reply.Status != AnnounceStatus.Accepted);

        Assert.Equal(AnnounceStatus.ClientNotAllowed, afterTheRetry.Status);
    }

    [Fact]
    public async Task ClientListChangedWithoutANotice_IsReadWithinAMinute()
    {
        var torrent = await NewTorrentAsync(5);
        Assert.Equal(AnnounceStatus.Accepted, (await AnnounceAsync(torrent)).Status);

        // The change's notice is lost (here: not sent, as while no silo listened and none caught up).
        await Database.ExecuteAsync("alter table allowed_clients disable trigger user");
        await AllowOnlyAnotherClientAsync();
        await Database.ExecuteAsync("alter table allowed_clients enable trigger user");
        Clock.Advance(SiteChangeListener.ClientListRefresh - SiteChangeListener.ProbeInterval);
        var beforeAMinute = await AnnounceAsync(torrent);
        // The probe notice after the minute wakes the listener, which finds the list due.
        Clock.Advance(SiteChangeListener.ProbeInterval);
        var afterAMinute = await Eventually.ValueAsync(() => AnnounceAsync(torrent), reply => reply.Status != AnnounceStatus.Accepted);

        Assert.Equal(AnnounceStatus.Accepted, beforeAMinute.Status);
        Assert.Equal(AnnounceStatus.ClientNotAllowed, afterAMinute.Status);
    }

    [Fact]
    public async Task SwarmWhoseActivationCannotReadTheSite_IsNotLeftCountedAsActive()
    {
        var torrent = await NewTorrentAsync(3);
        Store.ReadsFail = true;
        var failed = await Record.ExceptionAsync(() => AnnounceAsync(torrent));
        Store.ReadsFail = false;

        // Counted, it would be re-read at every change notice and catch-up, and held in memory, until a restart.
        Assert.IsType<SiteUnavailableException>(failed);
        Assert.False(Silo.GetRequiredService<LocalActivations>().Contains(torrent));
    }

    [Fact]
    public async Task SwarmWhoseFirstReadFails_AnswersUnavailableWithoutErrorLines_AndIsServedOnceTheSiteReads()
    {
        var torrent = await NewTorrentAsync(4);
        var failedBefore = Store.FailedReads;
        Store.ReadsFail = true;
        var announced = await Record.ExceptionAsync(() => AnnounceAsync(torrent));
        var failedReads = Store.FailedReads - failedBefore;
        var scraped = await Record.ExceptionAsync(() => Cluster.GrainFactory.GetGrain<ITorrentGrain>(torrent.ToGrainKey()).Scrape().AsTask());
        Store.ReadsFail = false;
        // A failed first read stays the answer for a second.
        var served = await Eventually.ValueAsync(() => AnnounceOrNullWhileUnavailableAsync(torrent), reply => reply is not null);

        // The announce that activated the swarm got its activation's failure, with no second read.
        Assert.Contains("injected", Assert.IsType<SiteUnavailableException>(announced).Message, StringComparison.Ordinal);
        Assert.Equal(1, failedReads);
        Assert.IsType<SiteUnavailableException>(scraped);
        Assert.Equal(AnnounceStatus.Accepted, served!.Status);
        Assert.True(Silo.GetRequiredService<LocalActivations>().Contains(torrent), "the swarm read at last is counted, so notices reach it");
        // A failed activation logged two errors with stack traces per call (Orleans' "Error activating grain").
        var lines = Silo.GetRequiredService<FakeLogCollector>().GetSnapshot();
        Assert.DoesNotContain(lines, line => line.Level >= LogLevel.Error);
        Assert.Single(lines, line => line.Message.StartsWith("Reading torrents from the site failed (1 reads", StringComparison.Ordinal));
    }

    private async Task<AnnounceResult?> AnnounceOrNullWhileUnavailableAsync(InfoHash hash)
    {
        try
        {
            return await AnnounceAsync(hash);
        }
        catch (SiteUnavailableException)
        {
            return null;
        }
    }

    private async Task<InfoHash> NewTorrentAsync(long id)
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash.Value.ToArray());
        return hash;
    }

    /// <summary>The site allows one client, not the one <see cref="AnnounceAsync"/> announces as.</summary>
    private Task AllowOnlyAnotherClientAsync() =>
        Database.ExecuteAsync("insert into allowed_clients (peer_id_prefix) values ($1)", "-XX"u8.ToArray());

    private static UserKey UserKey => new Passkey("failedsitereads01").ToUserKey();

    /// <summary>User 1's leecher announces, as the clock reads now.</summary>
    private async Task<AnnounceResult> AnnounceAsync(InfoHash hash) =>
        await Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).Announce(new AnnounceCommand(
            PeerId.Read(Enumerable.Repeat((byte)1, 20).ToArray()), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, 0, 100,
            AnnounceEvent.None, 10, false, UserKey, UnixMicroseconds.From(Clock.GetUtcNow())));

    /// <summary>This class's own kind of silo (each kind's clock and store are its own), with the usual options.</summary>
    public sealed class UsualSilo : FaultInjectingPostgresSilo;
}
