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

        var heldToken = (await torrent.GetProfile())?.FreeleechTokens?.ContainsKey(1) == true;
        await Database.ExecuteAsync("truncate freeleech_tokens");
        // The re-read's answer, not its start: an announce meanwhile is still credited by the profile held.
        await Eventually.TrueAsync(
            async () => (await torrent.GetProfile())?.FreeleechTokens?.ContainsKey(1) != true, "the swarm re-read its torrent after the truncate");
        await AnnounceAsync(torrent, downloaded: 3_000);
        await torrent.FlushUsage();

        Assert.True(heldToken, "the swarm held the user's token");
        Assert.Equal(0, creditedWithTheToken);
        Assert.Equal(2_000, await CreditedDownloadedAsync());
    }

    [Fact]
    public async Task TorrentGivenAnotherId_IsReReadAtOnce_AndItsTrafficCreditedUnderTheNewId()
    {
        var hash = await NewTorrentAsync(21);
        var torrent = Cluster.GrainFactory.GetGrain<ITorrentGrain>(hash.ToGrainKey());
        await AnnounceAsync(torrent, downloaded: 0);

        await Database.ExecuteAsync("update torrents set id = 22 where id = 21");
        // The swarm of the old id re-reads, retires and leaves; the next call activates the new id's.
        await Eventually.TrueAsync(async () => (await torrent.GetProfile())?.TorrentId == 22, "the swarm of the new id serves the torrent");
        var reply = await AnnounceAsync(torrent, downloaded: 500);
        await torrent.FlushUsage();

        Assert.Equal(AnnounceStatus.Accepted, reply.Status);
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
