using System.Net;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// Site changes that no row trigger of migration 003 saw, on the real PostgreSQL with the silo listening: a TRUNCATE
/// (a site ending a freeleech event by emptying the tokens), and a change of a row's id, which the tracker credits by.
/// </summary>
public sealed class SiteNoticeTests : FaultInjectingPostgresCluster<SiteNoticeTests.UsualSilo>
{
    private const string Passkey = "sitenoticeuser001";

    protected override Task PrepareDatabaseAsync() => Database.ExecuteAsync("insert into users (id, passkey) values (1, $1)", Passkey);

    [Fact]
    public async Task FreeleechTokensTruncated_AreNoLongerApplied_WithoutWaitingForThePeriodicReRead()
    {
        var hash = await NewTorrentAsync(20);
        await Database.ExecuteAsync("insert into freeleech_tokens (user_id, torrent_id, expires_at) values (1, 20, now() + interval '1 day')");
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await AnnounceAsync(torrent, downloaded: 0);
        await AnnounceAsync(torrent, downloaded: 1_000);
        await torrent.FlushUsage();
        var creditedWithTheToken = await CreditedDownloadedAsync();

        var readsBefore = Store.ReadsOf(hash);
        await Database.ExecuteAsync("truncate freeleech_tokens");
        await Eventually.TrueAsync(() => Task.FromResult(Store.ReadsOf(hash) > readsBefore), "the swarm re-read its torrent after the truncate");
        await AnnounceAsync(torrent, downloaded: 3_000);
        await torrent.FlushUsage();

        Assert.Equal(0, creditedWithTheToken);
        Assert.Equal(2_000, await CreditedDownloadedAsync());
    }

    [Fact]
    public async Task TorrentGivenAnotherId_IsReReadAtOnce_AndItsTrafficCreditedUnderTheNewId()
    {
        var hash = await NewTorrentAsync(21);
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await AnnounceAsync(torrent, downloaded: 0);

        var readsBefore = Store.ReadsOf(hash);
        await Database.ExecuteAsync("update torrents set id = 22 where id = 21");
        await Eventually.TrueAsync(() => Task.FromResult(Store.ReadsOf(hash) > readsBefore), "the swarm re-read its torrent after the id changed");
        // The swarm of the old id retires; the next announce finds the new one.
        await Eventually.TrueAsync(
            async () =>
            {
                var reply = await AnnounceAsync(Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()), downloaded: 500);
                return reply.Status == AnnounceStatus.Accepted;
            },
            "an announce accepted by the swarm of the new id");
        await Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).FlushUsage();

        Assert.Equal(22, (await Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey()).GetProfile())?.TorrentId);
        Assert.Equal(500, await Database.ScalarAsync<long>("select raw_downloaded from user_torrents where user_id = 1 and torrent_id = 22"));
    }

    private async Task<InfoHash> NewTorrentAsync(long id)
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash.Value.ToArray());
        return hash;
    }

    private Task<long> CreditedDownloadedAsync() => Database.ScalarAsync<long>("select credited_downloaded from users where id = 1");

    /// <summary>User 1's leecher announces its download so far, as the clock reads now.</summary>
    private static async Task<AnnounceResult> AnnounceAsync(ITorrentGrain torrent, long downloaded)
    {
        var reply = await torrent.Announce(new AnnounceCommand(
            PeerId.Read(Enumerable.Repeat((byte)3, 20).ToArray()), PeerEndpoint.From(IPAddress.Loopback, 6881), 0, downloaded, 10_000,
            AnnounceEvent.None, 10, false, new Passkey(Passkey).ToUserKey(), UnixMicroseconds.From(Clock.GetUtcNow())));
        return reply;
    }

    /// <summary>This class's own kind of silo (each kind's clock and store are its own), with the usual options.</summary>
    public sealed class UsualSilo : FaultInjectingPostgresSilo;
}
