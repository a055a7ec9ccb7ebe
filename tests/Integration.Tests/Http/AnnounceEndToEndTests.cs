using System.Text;
using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>The announce and scrape rules, over real HTTP on a loopback socket.</summary>
[Collection(TrackerCollection.Name)]
public sealed class AnnounceEndToEndTests(TrackerFixture fixture)
{
    private TrackerHost Host => fixture.Host;

    [Fact]
    public async Task Announce_SeederAndLeecher_AreIntroducedToEachOther()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var seeder = new Announcer(passkey, hash, UrlBytes.Random20(), 51001);
        var leecher = new Announcer(passkey, hash, UrlBytes.Random20(), 51002);

        var seederFirst = await seeder.AnnounceAsync(Host, 0, 0, 0, "started");
        var leecherReply = await leecher.AnnounceAsync(Host, 0, 0, 1000, "started");
        var seederReply = await seeder.AnnounceAsync(Host, 0, 0, 0);

        Assert.Empty(CompactPeers(seederFirst));
        Assert.Equal("127.0.0.1:51001", Assert.Single(CompactPeers(leecherReply)).ToString());
        Assert.Equal("127.0.0.1:51002", Assert.Single(CompactPeers(seederReply)).ToString());
        Assert.Equal(1, Integer(leecherReply, "complete"));
        Assert.Equal(1, Integer(leecherReply, "incomplete"));
        Assert.Equal(1800, Integer(leecherReply, "interval"));
        Assert.Equal(900, Integer(leecherReply, "min interval"));
    }

    [Fact]
    public async Task Announce_TwoSeeders_GetNoPeers()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        await new Announcer(passkey, hash, UrlBytes.Random20(), 51003).AnnounceAsync(Host, 0, 0, 0, "started");

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20(), 51004).AnnounceAsync(Host, 0, 0, 0, "started");

        Assert.Empty(CompactPeers(reply));
        Assert.Equal(2, Integer(reply, "complete"));
    }

    [Fact]
    public async Task Announce_NumWant_IsHonouredAndCapped()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        for (var port = 52000; port < 52210; port++)
        {
            await new Announcer(passkey, hash, UrlBytes.Random20(), port).AnnounceAsync(Host, 0, 0, 0, "started");
        }

        var leecher = new Announcer(passkey, hash, UrlBytes.Random20(), 53000);
        var seven = await Host.GetBencodeAsync(leecher.Url(0, 0, 10, "started", "numwant=7"));
        var defaulted = await leecher.AnnounceAsync(Host, 0, 0, 10);
        var capped = await Host.GetBencodeAsync(leecher.Url(0, 0, 10, null, "numwant=5000"));

        Assert.Equal(7, CompactPeers(seven).Count);
        Assert.Equal(50, CompactPeers(defaulted).Count);
        Assert.Equal(200, CompactPeers(capped).Count);
    }

    [Fact]
    public async Task Announce_Stopped_RemovesThePeer()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var seeder = new Announcer(passkey, hash, UrlBytes.Random20(), 51005);
        await seeder.AnnounceAsync(Host, 0, 0, 0, "started");

        await seeder.AnnounceAsync(Host, 0, 0, 0, "stopped");
        var reply = await new Announcer(passkey, hash, UrlBytes.Random20(), 51006).AnnounceAsync(Host, 0, 0, 10, "started");

        Assert.Empty(CompactPeers(reply));
        Assert.Equal(0, Integer(reply, "complete"));
    }

    [Fact]
    public async Task Announce_DictionaryModel_ListsPeerIdsUnlessNoPeerId()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var seederId = Encoding.ASCII.GetBytes("-TR3000-abcdefghijkl");
        await new Announcer(passkey, hash, seederId, 51007).AnnounceAsync(Host, 0, 0, 0, "started");
        var leecher = new Announcer(passkey, hash, UrlBytes.Random20(), 51008);

        var withIds = await Host.GetBencodeAsync(leecher.Url(0, 0, 10, "started").Replace("&compact=1&no_peer_id=1", "&compact=0"));
        var withoutIds = await Host.GetBencodeAsync(leecher.Url(0, 0, 10).Replace("&compact=1", "&compact=0"));

        var peer = (Dictionary<string, object>)Assert.Single((List<object>)withIds["peers"]);
        Assert.Equal("127.0.0.1"u8.ToArray(), peer["ip"]);
        Assert.Equal(51007L, peer["port"]);
        Assert.Equal(seederId, peer["peer id"]);
        var bare = (Dictionary<string, object>)Assert.Single((List<object>)withoutIds["peers"]);
        Assert.False(bare.ContainsKey("peer id"));
    }

    [Fact]
    public async Task Announce_UnknownPasskey_IsRefused()
    {
        var hash = await fixture.NewTorrentAsync();

        var reply = await new Announcer(TrackerFixture.NewPasskey(), hash, UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started");

        Assert.Equal(Gateway.Protocol.TrackerFailure.UnknownPasskey, FailureReason(reply));
    }

    [Theory]
    [InlineData("/short/announce", Gateway.Protocol.TrackerFailure.InvalidPasskey)]
    [InlineData("/has-a-dash-in-it-0000000000000/announce", Gateway.Protocol.TrackerFailure.InvalidPasskey)]
    [InlineData("/short/scrape", Gateway.Protocol.TrackerFailure.InvalidPasskey)]
    [InlineData("/announce", Gateway.Protocol.TrackerFailure.MissingPasskey)]
    [InlineData("/scrape", Gateway.Protocol.TrackerFailure.MissingPasskey)]
    [InlineData("//announce", Gateway.Protocol.TrackerFailure.MissingPasskey)]
    [InlineData("//scrape", Gateway.Protocol.TrackerFailure.MissingPasskey)]
    public async Task Announce_MissingOrMalformedPasskey_IsRefused(string path, string reason)
    {
        // Everything but the passkey is a valid announce of a registered torrent, so only the passkey can refuse it.
        var hash = await fixture.NewTorrentAsync();
        var valid = new Announcer(TrackerFixture.NewPasskey(), hash, UrlBytes.Random20()).Url(0, 0, 0, "started");

        var reply = await Host.GetBencodeAsync(path + valid[valid.IndexOf('?', StringComparison.Ordinal)..]);

        Assert.Equal(reason, FailureReason(reply));
        Assert.Single(reply);
    }

    [Fact]
    public async Task Announce_UserMayNotLeech_LeechingRefusedSeedingAllowed()
    {
        var passkey = await fixture.NewUserAsync(canLeech: false);
        var hash = await fixture.NewTorrentAsync();

        var leech = await new Announcer(passkey, hash, UrlBytes.Random20(), 51009).AnnounceAsync(Host, 0, 0, 500, "started");
        var seed = await new Announcer(passkey, hash, UrlBytes.Random20(), 51010).AnnounceAsync(Host, 0, 0, 0, "started");
        // A partial seed (BEP 21: libtorrent's event=paused once it has the files selected, left counting the others)
        // only uploads: seeding what it has is allowed, and it is handed no seeder.
        var partial = await new Announcer(passkey, hash, UrlBytes.Random20(), 51011).AnnounceAsync(Host, 0, 0, 300, "paused");

        Assert.Equal(Gateway.Protocol.TrackerFailure.LeechingNotAllowed, FailureReason(leech));
        Assert.Null(FailureReason(seed));
        Assert.Equal(1, Integer(seed, "complete"));
        Assert.Equal(0, Integer(seed, "incomplete"));
        Assert.Null(FailureReason(partial));
        Assert.Empty(CompactPeers(partial));
    }

    [Fact]
    public async Task Announce_LeechRightsRevoked_TakeEffectAtOnce()
    {
        var passkey = TrackerFixture.NewPasskey();
        var id = TrackerFixture.NextId();
        await Host.PutUserAsync(passkey, id);
        var hash = await fixture.NewTorrentAsync();
        var leecher = new Announcer(passkey, hash, UrlBytes.Random20(), 51011);
        Assert.Null(FailureReason(await leecher.AnnounceAsync(Host, 0, 0, 500, "started")));

        await Host.PutUserAsync(passkey, id, canLeech: false);

        Assert.Equal(Gateway.Protocol.TrackerFailure.LeechingNotAllowed, FailureReason(await leecher.AnnounceAsync(Host, 0, 10, 490)));
    }

    [Fact]
    public async Task Announce_UnregisteredTorrent_IsRefused()
    {
        var passkey = await fixture.NewUserAsync();

        var reply = await new Announcer(passkey, UrlBytes.Random20(), UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started");

        Assert.Equal(Gateway.Protocol.TrackerFailure.TorrentNotRegistered, FailureReason(reply));
    }

    [Fact]
    public async Task Announce_DeletedTorrent_IsRefusedWithTheSitesReason()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = UrlBytes.Random20();
        await Host.PutTorrentAsync(hash, TrackerFixture.NextId(), status: "deleted", reason: "Dupe of a better encode");
        var hashWithoutReason = UrlBytes.Random20();
        await Host.PutTorrentAsync(hashWithoutReason, TrackerFixture.NextId(), status: "deleted");

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started");
        var bare = await new Announcer(passkey, hashWithoutReason, UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started");

        Assert.Equal("torrent has been deleted: Dupe of a better encode", FailureReason(reply));
        Assert.Equal(Gateway.Protocol.TrackerFailure.TorrentDeleted, FailureReason(bare));
    }

    [Fact]
    public async Task Announce_RemovedTorrent_IsRefusedAtOnce()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0, "started")));

        using var removed = await Host.Admin.DeleteAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}");

        Assert.Equal(System.Net.HttpStatusCode.NoContent, removed.StatusCode);
        Assert.Equal(Gateway.Protocol.TrackerFailure.TorrentNotRegistered, FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0)));
    }

    [Fact]
    public async Task Scrape_SeveralHashes_ReportsRegisteredOnesByRawHash()
    {
        var passkey = await fixture.NewUserAsync();
        var busy = await fixture.NewTorrentAsync();
        var quiet = await fixture.NewTorrentAsync();
        var unknown = UrlBytes.Random20();
        await new Announcer(passkey, busy, UrlBytes.Random20(), 51012).AnnounceAsync(Host, 0, 0, 0, "started");
        var leecher = new Announcer(passkey, busy, UrlBytes.Random20(), 51013);
        await leecher.AnnounceAsync(Host, 0, 0, 10, "started");
        await leecher.AnnounceAsync(Host, 0, 10, 0, "completed");
        await new Announcer(passkey, busy, UrlBytes.Random20(), 51014).AnnounceAsync(Host, 0, 0, 10, "started");

        var reply = await Host.GetBencodeAsync($"/{passkey}/scrape?info_hash={UrlBytes.Encode(busy)}&info_hash={UrlBytes.Encode(quiet)}&info_hash={UrlBytes.Encode(unknown)}");

        var files = (Dictionary<string, object>)reply["files"];
        Assert.Equal(2, files.Count);
        var busyFile = (Dictionary<string, object>)files[Encoding.Latin1.GetString(busy)];
        Assert.Equal(2L, busyFile["complete"]);
        Assert.Equal(1L, busyFile["incomplete"]);
        Assert.Equal(1L, busyFile["downloaded"]);
        var quietFile = (Dictionary<string, object>)files[Encoding.Latin1.GetString(quiet)];
        Assert.Equal(0L, quietFile["complete"]);
    }

    [Fact]
    public async Task Scrape_UnknownPasskey_IsRefused()
    {
        var hash = await fixture.NewTorrentAsync();

        var reply = await Host.GetBencodeAsync($"/{TrackerFixture.NewPasskey()}/scrape?info_hash={UrlBytes.Encode(hash)}");

        Assert.Equal(Gateway.Protocol.TrackerFailure.UnknownPasskey, FailureReason(reply));
    }
}
