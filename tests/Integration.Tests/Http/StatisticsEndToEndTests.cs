using System.Text.Json;
using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>The accounting rules of the README, checked through announces and the admin API's statistics.</summary>
[Collection(TrackerCollection.Name)]
public sealed class StatisticsEndToEndTests(TrackerFixture fixture)
{
    private TrackerHost Host => fixture.Host;

    private static (long RawUp, long RawDown, long CreditUp, long CreditDown) Stats(JsonElement document)
    {
        var stats = document.GetProperty("stats");
        return (stats.GetProperty("rawUploaded").GetInt64(), stats.GetProperty("rawDownloaded").GetInt64(),
            stats.GetProperty("creditedUploaded").GetInt64(), stats.GetProperty("creditedDownloaded").GetInt64());
    }

    private Task<JsonElement> WaitForUserAsync(string passkey, long rawUploaded) =>
        Host.WaitForAdminAsync($"/admin/users/{passkey}", d => Stats(d).RawUp >= rawUploaded);

    [Fact]
    public async Task Announces_DeltasTimesMultipliers_LandOnTheRightUsersAndTorrent()
    {
        var seederKey = await fixture.NewUserAsync();
        var leecherKey = await fixture.NewUserAsync(upload: 1m, download: 1m);
        var bystanderKey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync(upload: 2m, download: 0m);
        var seeder = new Announcer(seederKey, hash, UrlBytes.Random20(), 51101);
        var leecher = new Announcer(leecherKey, hash, UrlBytes.Random20(), 51102);

        await seeder.AnnounceAsync(Host, 0, 0, 0, "started");
        await leecher.AnnounceAsync(Host, 0, 0, 1000, "started");
        await leecher.AnnounceAsync(Host, 100, 400, 600);
        await leecher.AnnounceAsync(Host, 10, 10, 590);            // client restart: totals went down, new baseline
        await leecher.AnnounceAsync(Host, 30, 60, 540);
        await leecher.AnnounceAsync(Host, 35, 70, 530, "stopped");
        await seeder.AnnounceAsync(Host, 500, 0, 0);
        await seeder.AnnounceAsync(Host, 900, 0, 0);

        var leecherStats = Stats(await WaitForUserAsync(leecherKey, 125));
        var seederStats = Stats(await WaitForUserAsync(seederKey, 900));
        var torrent = await Host.WaitForAdminAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}", d => Stats(d).RawUp >= 1025);

        Assert.Equal((125L, 460L, 250L, 0L), leecherStats);
        Assert.Equal((900L, 0L, 1800L, 0L), seederStats);
        Assert.Equal((1025L, 460L, 2050L, 0L), Stats(torrent));
        Assert.Equal((0L, 0L, 0L, 0L), Stats(await Host.GetAdminAsync($"/admin/users/{bystanderKey}")));
    }

    [Fact]
    public async Task Announce_UserAndTorrentMultipliers_MultiplyAndRoundDown()
    {
        var passkey = await fixture.NewUserAsync(upload: 1.5m, download: 0.5m);
        var hash = await fixture.NewTorrentAsync(upload: 1.1m, download: 0.5m);
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());

        await peer.AnnounceAsync(Host, 0, 0, 100, "started");
        await peer.AnnounceAsync(Host, 7, 7, 93);      // 7 × 1.65 = 11.55 → 11;  7 × 0.25 = 1.75 → 1
        await peer.AnnounceAsync(Host, 14, 14, 86);    // the same again: rounding is per announce

        Assert.Equal((14L, 14L, 22L, 2L), Stats(await WaitForUserAsync(passkey, 14)));
    }

    [Fact]
    public async Task Announce_MultiplierChangedMidSession_AppliesToTrafficReportedAfterTheChange()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = UrlBytes.Random20();
        var torrentId = TrackerFixture.NextId();
        await Host.PutTorrentAsync(hash, torrentId);
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        await peer.AnnounceAsync(Host, 0, 0, 1000, "started");
        await peer.AnnounceAsync(Host, 0, 100, 900);

        await Host.PutTorrentAsync(hash, torrentId, download: 0m);
        await peer.AnnounceAsync(Host, 0, 300, 700);

        Assert.Equal((0L, 300L, 0L, 100L), Stats(await Host.WaitForAdminAsync($"/admin/users/{passkey}", d => Stats(d).RawDown >= 300)));
    }

    [Fact]
    public async Task Announce_Refused_CreditsNothing()
    {
        var passkey = TrackerFixture.NewPasskey();
        var id = TrackerFixture.NextId();
        await Host.PutUserAsync(passkey, id);
        var hash = await fixture.NewTorrentAsync();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        await peer.AnnounceAsync(Host, 0, 0, 1000, "started");
        await Host.PutUserAsync(passkey, id, canLeech: false);

        var refused = await peer.AnnounceAsync(Host, 50, 500, 500);
        var stopped = await peer.AnnounceAsync(Host, 60, 600, 400, "stopped");

        Assert.NotNull(FailureReason(refused));
        Assert.Null(FailureReason(stopped));
        // Only the stop is accepted: it credits everything since the last accepted announce.
        Assert.Equal((60L, 600L, 60L, 600L), Stats(await WaitForUserAsync(passkey, 60)));
    }

    [Fact]
    public async Task Announce_LeftReachesZeroWithoutCompleted_CountsOneSnatch()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        await peer.AnnounceAsync(Host, 0, 0, 100, "started");

        var finished = await peer.AnnounceAsync(Host, 0, 100, 0);
        var completedLater = await peer.AnnounceAsync(Host, 0, 100, 0, "completed");
        var stopped = await peer.AnnounceAsync(Host, 0, 100, 0, "stopped");

        Assert.Equal(1, Integer(finished, "downloaded"));
        Assert.Equal(1, Integer(completedLater, "downloaded"));
        Assert.Equal(1, Integer(stopped, "downloaded"));
        var torrent = await Host.WaitForAdminAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}", d => d.GetProperty("snatches").GetInt64() >= 1);
        Assert.Equal(1, torrent.GetProperty("snatches").GetInt64());
    }

    [Fact]
    public async Task Announce_CompletedFromTwoPeerIdsOfOneUser_CountsOneSnatch_TwoUsersCountTwo()
    {
        var passkey = await fixture.NewUserAsync();
        var other = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var hex = Convert.ToHexStringLower(hash);
        foreach (var port in new[] { 51201, 51202 })
        {
            // The same user completing again under a fresh peer id, as a snatch-inflating client would.
            var peer = new Announcer(passkey, hash, UrlBytes.Random20(), port);
            await peer.AnnounceAsync(Host, 0, 0, 100, "started");
            await peer.AnnounceAsync(Host, 0, 100, 0, "completed");
        }

        var afterOneUser = await Host.WaitForAdminAsync($"/admin/torrents/{hex}", d => d.GetProperty("snatches").GetInt64() >= 1);
        await new Announcer(other, hash, UrlBytes.Random20(), 51203).AnnounceAsync(Host, 0, 0, 0, "completed");
        var scrape = await Host.GetBencodeAsync($"/{passkey}/scrape?info_hash={UrlBytes.Encode(hash)}");
        var afterTwoUsers = await Host.WaitForAdminAsync($"/admin/torrents/{hex}", d => d.GetProperty("snatches").GetInt64() >= 2);

        Assert.Equal(1, afterOneUser.GetProperty("snatches").GetInt64());
        var file = (Dictionary<string, object>)((Dictionary<string, object>)scrape["files"]).Values.Single();
        Assert.Equal(2L, file["downloaded"]);
        Assert.Equal(2, afterTwoUsers.GetProperty("snatches").GetInt64());
    }

    [Fact]
    public async Task Announce_AbsurdTotals_SaturateInsteadOfWrappingNegative()
    {
        var passkey = await fixture.NewUserAsync(upload: 2m);
        var hash = await fixture.NewTorrentAsync();
        foreach (var port in new[] { 51401, 51402 })
        {
            var cheater = new Announcer(passkey, hash, UrlBytes.Random20(), port);
            await cheater.AnnounceAsync(Host, 0, 0, 0, "started");
            await cheater.AnnounceAsync(Host, long.MaxValue, 0, 0);
        }

        var stats = Stats(await WaitForUserAsync(passkey, long.MaxValue));

        Assert.Equal((long.MaxValue, 0L, long.MaxValue, 0L), stats);
    }
}
