using System.Text.Json;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Xunit.Abstractions;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// Real BitTorrent clients (aria2, qBittorrent, rTorrent, python-libtorrent) complete a download of a
/// private torrent through the tracker's <c>/PASSKEY/announce</c> URL, and the traffic they report lands
/// on the passkey's user. Driven by <see cref="RealClientSwarm"/>; the test command installs the clients.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class RealClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int PayloadBytes = 20 * 1024 * 1024;
    private TrackerHost _host = null!;

    public async Task InitializeAsync() => _host = await TrackerHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("qbit-aria2", 1)]
    [InlineData("aria2-qbit", 1)]
    [InlineData("swarm", 3)]
    public async Task Swarm_RealClients_CompleteTheDownloadAndStatsLandOnTheUser(string spec, int leechers)
    {
        var passkey = TrackerFixture.NewPasskey();
        var bystander = TrackerFixture.NewPasskey();
        await _host.PutUserAsync(passkey, TrackerFixture.NextId());
        await _host.PutUserAsync(bystander, TrackerFixture.NextId());

        var infoHash = await new RealClientSwarm(_host, output, PayloadBytes).RunAsync(spec, new Uri($"{_host.BaseAddress}{passkey}/announce"));

        long payload = PayloadBytes;
        var user = await _host.WaitForAdminAsync($"/admin/users/{passkey}", d => Stat(d, "rawDownloaded") >= leechers * payload);
        var torrent = await _host.WaitForAdminAsync($"/admin/torrents/{infoHash}", d => d.GetProperty("snatches").GetInt64() >= 1);
        output.WriteLine($"user stats: {user.GetProperty("stats")}; torrent: {torrent}");

        Assert.InRange(Stat(user, "rawDownloaded"), leechers * payload, leechers * payload * 3 / 2);
        Assert.InRange(Stat(user, "rawUploaded"), leechers * payload, leechers * payload * 5 / 2);
        Assert.Equal(Stat(user, "rawDownloaded"), Stat(user, "creditedDownloaded"));
        // Every client announces with the one passkey, so all leechers are one user: one snatch, however many finish.
        Assert.Equal(1, torrent.GetProperty("snatches").GetInt64());
        Assert.Equal(0, Stat(await _host.GetAdminAsync($"/admin/users/{bystander}"), "rawDownloaded"));
    }

    private static long Stat(JsonElement document, string name) => document.GetProperty("stats").GetProperty(name).GetInt64();
}
