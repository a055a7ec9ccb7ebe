using System.Diagnostics;
using System.Text.Json;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Xunit.Abstractions;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// Real BitTorrent clients (aria2, qBittorrent, rTorrent, python-libtorrent) complete a download of a
/// private torrent through the tracker's <c>/PASSKEY/announce</c> URL, and the traffic they report lands
/// on the passkey's user. Driven by <c>../shared/realclient/swarm.sh</c>; the test command installs the clients.
/// </summary>
[Trait("Category", "RealClients")]
public sealed class RealClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int PayloadMiB = 20;
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
        var registered = Path.GetTempFileName();

        var (exitCode, lastLine) = await RunSwarmAsync(spec, $"{_host.BaseAddress}{passkey}/announce", registered);

        Assert.True(exitCode == 0 && lastLine.StartsWith("PASS", StringComparison.Ordinal), $"swarm.sh: {lastLine}");
        var infoHash = (await File.ReadAllLinesAsync(registered)).Single();
        var payload = PayloadMiB * 1024L * 1024L;
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

    private async Task<(int ExitCode, string LastLine)> RunSwarmAsync(string spec, string announceUrl, string registerLog)
    {
        var script = Path.Combine(RepositoryPaths.Shared, "realclient", "swarm.sh");
        var hook = Path.Combine(AppContext.BaseDirectory, "RealClients", "register-torrent.sh");
        var start = new ProcessStartInfo("bash", [script, announceUrl, spec])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["SWARM_REGISTER"] = hook;
        start.Environment["SWARM_SIZE_MIB"] = PayloadMiB.ToString();
        start.Environment["SWARM_TIMEOUT"] = "120";
        start.Environment["TRACKER_ADMIN_URL"] = _host.BaseAddress.ToString().TrimEnd('/');
        start.Environment["TRACKER_ADMIN_TOKEN"] = _host.AdminToken;
        start.Environment["REGISTER_LOG"] = registerLog;

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine(await stderr);
        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        output.WriteLine(string.Join('\n', lines));
        return (process.ExitCode, lines.LastOrDefault() ?? "");
    }
}
