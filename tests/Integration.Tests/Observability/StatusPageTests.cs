using System.Net.Http.Json;
using Chihaya.Orleans.Integration.Tests.Cluster;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Chihaya.Orleans.Integration.Tests.Observability;

/// <summary>
/// Opens <c>/status</c> of a gateway in front of two silos in a real headless Chromium (Debian's, driven by Playwright),
/// while peers announce (accepted and refused): the page draws its charts with data, lists both silos as active members
/// with the database and Redis answering, shows the busiest swarms, and loads nothing from anywhere but the gateway.
/// The screenshot is kept as a test artefact (<c>artifacts/status-page.png</c> beside the test assembly; the path is
/// in the test's output), and copied to <c>docs/status-page.png</c> for the README with <c>CHIHAYA_WRITE_SCREENSHOT=1</c>.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class StatusPageTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task StatusPage_DrawsTheClusterWithData_InAHeadlessBrowser()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: deploy/scripts/install-test-deps.sh installs Debian's chromium.");
        await using var cluster = await ProcessCluster.StartAsync(silos: 2, new Dictionary<string, string>
        {
            // Points twice a second, so a few seconds of announces make a chart.
            ["Status__ReportInterval"] = "00:00:00.500",
        });
        var passkey = TrackerFixture.NewPasskey();
        (await cluster.Admin.PutAsJsonAsync($"/admin/users/{passkey}", new { id = 1, uploadMultiplier = 1, downloadMultiplier = 1, canLeech = true })).EnsureSuccessStatusCode();
        var hashes = Enumerable.Range(0, 3).Select(_ => UrlBytes.Random20()).ToArray();
        for (var i = 0; i < hashes.Length; i++)
        {
            (await cluster.Admin.PutAsJsonAsync($"/admin/torrents/{Convert.ToHexStringLower(hashes[i])}", new { id = i + 1, status = "active", uploadMultiplier = 1, downloadMultiplier = 1 })).EnsureSuccessStatusCode();
        }

        // Swarms of 4, 2 and 1 peers (a seeder first in each), announcing again and again, with a refusal now and then.
        var peers = new[] { 4, 2, 1 }.SelectMany((size, torrent) => Enumerable.Range(0, size).Select(n => (Peer: new Announcer(passkey, hashes[torrent], UrlBytes.Random20(), 7000 + (10 * torrent) + n), Seeder: n == 0))).ToList();
        foreach (var (peer, seeder) in peers)
        {
            await cluster.AnnounceUntilAcceptedAsync(peer, 0, 0, seeder ? 0 : 1000, TimeSpan.FromSeconds(30), "started");
        }

        using var stopLoad = new CancellationTokenSource();
        var load = AnnounceUntilCancelledAsync(cluster, peers, passkey, hashes[0], stopLoad.Token);
        try
        {
            await CheckPageAsync(cluster);
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
        }
    }

    [Fact]
    public async Task StatusData_NeedsTheAdminToken_AndThePageLoadsOnlyItsOwnFiles()
    {
        await using var host = await TrackerHost.StartAsync(new Dictionary<string, string?> { ["Status:ReportInterval"] = "00:00:00.200" });
        using (var page = await host.Http.GetAsync("/status"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
            Assert.StartsWith("default-src 'none'; script-src 'self';", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
            Assert.DoesNotContain("http", (await page.Content.ReadAsStringAsync()).Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.Ordinal);
        }

        foreach (var asset in new[] { "status.js", "status.css", "uPlot.iife.min.js", "uPlot.min.css" })
        {
            using var response = await host.Http.GetAsync($"/status/assets/{asset}");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        using (var refused = await host.Http.GetAsync("/status/data"))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // The embedded tracker reports as a silo and as a gateway; a few points later both are in the history.
        var data = await Eventually.ValueAsync(
            () => host.GetAdminAsync("/status/data"),
            json => json.GetProperty("series").GetProperty("t").GetArrayLength() >= 3
                && json.GetProperty("silos").GetArrayLength() == 1 && json.GetProperty("gateways").GetArrayLength() == 1);
        Assert.Equal("Active", data.GetProperty("members")[0].GetProperty("status").GetString());
        Assert.Equal(0.2, data.GetProperty("intervalSeconds").GetDouble());
        // What the token opened stays out of every cache on the way (the browser's, a proxy's).
        using var raw = await host.Admin.GetAsync("/status/data");
        Assert.True(raw.Headers.CacheControl?.NoStore, "Cache-Control: no-store");
    }

    private async Task CheckPageAsync(ProcessCluster cluster)
    {
        var gateway = cluster.Http.BaseAddress!;
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var foreign = new List<string>();
        await page.RouteAsync("**/*", async route =>
        {
            if (new Uri(route.Request.Url).Authority == gateway.Authority)
            {
                await route.ContinueAsync();
            }
            else
            {
                lock (foreign)
                {
                    foreign.Add(route.Request.Url);
                }

                await route.AbortAsync();
            }
        });
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (problems)
                {
                    problems.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (problems)
            {
                problems.Add(error);
            }
        };

        // Without a token the page holds nothing but the form asking for it.
        await page.GotoAsync(new Uri(gateway, "/status").ToString());
        await page.Locator("#login").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = 15_000 });
        Assert.True(await page.Locator("#status").IsHiddenAsync());

        // With it (typed into the form), the charts fill as points arrive.
        await page.FillAsync("#token", cluster.AdminToken);
        await page.ClickAsync("#login button[type=submit]");
        const string drawn = """
            () => {
              const requests = document.getElementById('chart-requests').dataset;
              const peers = document.getElementById('chart-peers').dataset;
              const swarms = document.getElementById('chart-swarms').dataset;
              // A silo's check can time out (2 s) in one report on a loaded machine: the page shows the newest report.
              const checksPassed = name => [...document.querySelectorAll('#silos .check')]
                .filter(check => check.textContent.startsWith('✔ ' + name)).length;
              return +requests.points >= 24 && +requests.maxAccepted > 0 && +requests.maxRefused > 0
                && +peers.maxPeers === 7 && +peers.maxSeeders === 3 && +peers.maxLeechers === 4 && +swarms.maxSwarms === 3
                && document.querySelectorAll('#members tbody tr td.ok').length === 2
                && document.querySelectorAll('#busiest tbody tr').length === 3
                && checksPassed('database') === 2 && checksPassed('redis') === 2;
            }
            """;
        try
        {
            await page.WaitForFunctionAsync(drawn, null, new PageWaitForFunctionOptions { Timeout = 90_000, PollingInterval = 250 });
        }
        finally
        {
            await SaveScreenshotAsync(page);
        }

        // The lines are on the canvas, not only in the data: pixels of the accepted series' colour (#2e7d32).
        var acceptedPixels = await page.EvaluateAsync<int>("""
            () => {
              const canvas = document.querySelector('#chart-requests canvas');
              const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
              let count = 0;
              for (let i = 0; i < pixels.length; i += 4) {
                if (Math.abs(pixels[i] - 0x2e) < 12 && Math.abs(pixels[i + 1] - 0x7d) < 12 && Math.abs(pixels[i + 2] - 0x32) < 12 && pixels[i + 3] > 200) count++;
              }
              return count;
            }
            """);
        Assert.True(acceptedPixels > 50, $"only {acceptedPixels} pixels of the accepted line on the chart");

        // Both silos' database and Redis checks passed: part of what the page was awaited on above (read again here,
        // a newer report could carry a check that timed out once on a loaded machine).
        var gateways = await page.Locator("#gateways tbody tr").AllTextContentsAsync();
        Assert.Single(gateways);
        Assert.Contains("unknown_passkey", gateways[0], StringComparison.Ordinal);
        var body = await page.Locator("body").TextContentAsync() ?? "";
        Assert.DoesNotContain(cluster.AdminToken, body, StringComparison.Ordinal);
        Assert.Empty(foreign);
        Assert.Empty(problems);
    }

    private async Task SaveScreenshotAsync(IPage page)
    {
        var artefact = Path.Combine(AppContext.BaseDirectory, "artifacts", "status-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(artefact)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = artefact, FullPage = true });
        output.WriteLine($"screenshot: {artefact}");
        Console.WriteLine($"StatusPageTests screenshot: {artefact}");
        if (Environment.GetEnvironmentVariable("CHIHAYA_WRITE_SCREENSHOT") == "1")
        {
            File.Copy(artefact, Path.Combine(RepositoryPaths.Root, "docs", "status-page.png"), overwrite: true);
        }
    }

    /// <summary>Every peer announces again every 20 ms in turn, traffic growing, and every tenth round a stranger's passkey is refused.</summary>
    private static async Task AnnounceUntilCancelledAsync(ProcessCluster cluster, List<(Announcer Peer, bool Seeder)> peers, string passkey, byte[] hash, CancellationToken stop)
    {
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        var round = 0L;
        try
        {
            while (await pace.WaitForNextTickAsync(stop))
            {
                round++;
                var (peer, seeder) = peers[(int)(round % peers.Count)];
                await cluster.AnnounceAsync(peer, round * 1000, seeder ? 0 : round * 100, seeder ? 0 : 1000);
                if (round % 10 == 0)
                {
                    await cluster.AnnounceAsync(new Announcer(TrackerFixture.NewPasskey(), hash, UrlBytes.Random20()), 0, 0, 0, "started");
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
