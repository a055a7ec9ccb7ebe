using System.Text.Json;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Xunit.Abstractions;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// Real BitTorrent clients (aria2, qBittorrent, rTorrent, python-libtorrent) complete a download of a
/// private torrent through the tracker's <c>/PASSKEY/announce</c> URL, each client with its own member's
/// passkey, and the traffic each reports lands on that member: the leechers' downloads, one snatch each. Driven by <see cref="RealClientSwarm"/>; the test command installs the clients.
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
    public async Task Swarm_RealClients_CompleteTheDownloadAndStatsLandOnTheirUsers(string spec, int leechers)
    {
        // One member of the site per client, each with a torrent file holding their own passkey.
        var passkeys = Enumerable.Range(0, 1 + leechers).Select(_ => TrackerFixture.NewPasskey()).ToList();
        var bystander = TrackerFixture.NewPasskey();
        foreach (var passkey in passkeys.Append(bystander))
        {
            await _host.PutUserAsync(passkey, TrackerFixture.NextId());
        }

        var infoHash = await new RealClientSwarm(_host, output, PayloadBytes).RunAsync(spec, client => new Uri($"{_host.BaseAddress}{passkeys[client]}/announce"));

        long payload = PayloadBytes;
        var torrent = await _host.WaitForAdminAsync($"/admin/torrents/{infoHash}", d => d.GetProperty("snatches").GetInt64() >= leechers);
        var users = new List<JsonElement>();
        foreach (var passkey in passkeys)
        {
            users.Add(await _host.GetAdminAsync($"/admin/users/{passkey}"));
        }

        output.WriteLine($"users' stats: {string.Join("; ", users.Select(user => user.GetProperty("stats")))}; torrent: {torrent}");
        Assert.Equal(0, Stat(users[0], "rawDownloaded"));
        Assert.All(users.Skip(1), leecher => Assert.InRange(Stat(leecher, "rawDownloaded"), payload, payload * 3 / 2));
        Assert.All(users, user => Assert.Equal(Stat(user, "rawDownloaded"), Stat(user, "creditedDownloaded")));
        Assert.InRange(users.Sum(user => Stat(user, "rawUploaded")), leechers * payload, leechers * payload * 5 / 2);
        Assert.Equal(leechers, torrent.GetProperty("snatches").GetInt64());
        Assert.Equal(0, Stat(await _host.GetAdminAsync($"/admin/users/{bystander}"), "rawDownloaded"));
    }

    private static long Stat(JsonElement document, string name) => document.GetProperty("stats").GetProperty(name).GetInt64();
}
