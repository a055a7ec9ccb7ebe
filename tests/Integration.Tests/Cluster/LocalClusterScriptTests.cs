using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Chihaya.Orleans.Integration.Tests.Faults;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// <c>deploy/local/cluster.sh</c> as an operator runs it: start brings up PostgreSQL, Redis, silos, gateways, nginx and
/// (PROMETHEUS=1) Prometheus, and registers the demo site; the demo announce URL it prints is answered; Prometheus
/// scrapes every silo and gateway; status shows every process ready; stop leaves nothing running.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(FaultsCollection.Name)]
public sealed class LocalClusterScriptTests
{
    private const string Script = "deploy/local/cluster.sh";

    [Fact]
    public async Task StartStatusStop_BringUpTheWholeShape_AndTakeItDownAgain()
    {
        // Made by the script, as for an operator: PostgreSQL's own user must be able to enter it.
        var folder = new DirectoryInfo(Path.Combine(Path.GetTempPath(), "chihaya-cluster-" + Guid.NewGuid().ToString("N")[..12]));
        var port = FreePorts.Next();
        var prometheusPort = FreePorts.Next();
        var environment = new Dictionary<string, string>
        {
            // The tests run what ./test.sh built; a build here would write over the programs other tests run.
            ["BUILD"] = "0",
            ["SILOS"] = "2",
            ["GATEWAYS"] = "2",
            ["PORT"] = port.ToString(),
            ["GATEWAY_PORTS_FROM"] = FreePorts.Next().ToString(),
            ["SILO_PORTS_FROM"] = FreePorts.Next().ToString(),
            ["SILO_GATEWAY_PORTS_FROM"] = FreePorts.Next().ToString(),
            ["SILO_HTTP_PORTS_FROM"] = FreePorts.Next().ToString(),
            ["PROMETHEUS"] = "1",
            ["PROMETHEUS_PORT"] = prometheusPort.ToString(),
        };
        try
        {
            var (started, startOutput) = await RepositoryScript.RunAsync(Script, TimeSpan.FromMinutes(4), environment, "start", folder.FullName);
            Assert.True(started == 0, startOutput);
            var url = startOutput.Split('\n').Single(line => line.StartsWith("demo announce URL: ", StringComparison.Ordinal))["demo announce URL: ".Length..];
            Assert.StartsWith($"http://127.0.0.1:{port}/", url);

            using var http = new HttpClient();
            var announce = $"{url}?info_hash=%01%23Eg%89%AB%CD%EF%01%23Eg%89%AB%CD%EF%01%23Eg&peer_id=-qB4500-000000000001&port=6881&uploaded=0&downloaded=0&left=0&compact=1";
            var reply = Bencode.DecodeDictionary(await http.GetByteArrayAsync(announce));
            Assert.Null(Replies.FailureReason(reply));
            Assert.Equal(1L, reply["complete"]);

            // Every silo and gateway scraped under its job (deploy/prometheus/prometheus.yml, 5 s interval).
            var up = await Eventually.ValueAsync(
                () => UpTargetsAsync(http, prometheusPort),
                targets => targets.Count == 4 && targets.All(target => target.Up),
                TimeSpan.FromSeconds(30));
            Assert.Equal(
                ["chihaya-gateway gateway1", "chihaya-gateway gateway2", "chihaya-silo silo1", "chihaya-silo silo2"],
                up.Where(target => target.Up).Select(target => $"{target.Job} {target.Process}").Order());

            string[] healthy =
            [
                .. new[] { "silo1", "silo2", "gateway1", "gateway2", "nginx" }.Select(process => $"(?m)^{process} +pid [0-9]+ +(running, [^ ]+ -> )?ready - "),
                $"(?m)^prometheus +pid [0-9]+ +running, http://127.0.0.1:{prometheusPort}: 4 of 4 targets up$",
                "(?m)^postgres .* answers$",
                "(?m)^redis .* answers$",
            ];
            // Each status reads every probe once (2 s a check) and Prometheus' last scrape: on a loaded machine one can
            // have timed out, as an operator would see by running it again.
            var (statusCode, status) = await Eventually.ValueAsync(
                () => RepositoryScript.RunAsync(Script, TimeSpan.FromMinutes(1), environment, "status", folder.FullName),
                result => result.ExitCode == 0 && healthy.All(pattern => Regex.IsMatch(result.Output, pattern)),
                TimeSpan.FromSeconds(60));
            Assert.True(statusCode == 0, status);
            foreach (var pattern in healthy)
            {
                Assert.Matches(pattern, status);
            }
        }
        finally
        {
            var (stopped, stopOutput) = await RepositoryScript.RunAsync(Script, TimeSpan.FromMinutes(3), environment, "stop", folder.FullName);
            var left = Directory.GetFiles(folder.FullName, "*.pid");
            folder.Delete(recursive: true);
            Assert.True(stopped == 0, stopOutput);
            Assert.Empty(left);
        }
    }

    [Fact]
    public async Task Stop_WithPidFilesLeftFromBeforeAReboot_LeavesTheProcessesNowHoldingThosePidsAlone()
    {
        // After a reboot the pid files outlive their processes, and a pid may then be any other process's.
        var folder = Directory.CreateTempSubdirectory("chihaya-cluster-");
        using var stranger = System.Diagnostics.Process.Start("sleep", "300");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "silo1.pid"), $"{stranger.Id}\n");
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "nginx.pid"), $"{stranger.Id}\n");

            var (stopped, output) = await RepositoryScript.RunAsync(Script, TimeSpan.FromMinutes(1), new Dictionary<string, string>(), "stop", folder.FullName);

            Assert.True(stopped == 0, output);
            Assert.False(stranger.HasExited, output);
            Assert.Empty(Directory.GetFiles(folder.FullName, "*.pid"));
        }
        finally
        {
            stranger.Kill();
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Start_OnAPortAnotherProcessHolds_RefusesBeforeStartingAnything()
    {
        var folder = new DirectoryInfo(Path.Combine(Path.GetTempPath(), "chihaya-cluster-" + Guid.NewGuid().ToString("N")[..12]));
        var held = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, FreePorts.Next());
        held.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)held.LocalEndpoint).Port;
            var (started, output) = await RepositoryScript.RunAsync(
                Script, TimeSpan.FromMinutes(1), new Dictionary<string, string> { ["BUILD"] = "0", ["PORT"] = port.ToString() }, "start", folder.FullName);

            Assert.True(started == 1, output);
            Assert.Contains($"Port {port} on 127.0.0.1 is in use", output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(folder.FullName, "services")), output);
        }
        finally
        {
            held.Stop();
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Prometheus' <c>up</c> series: each target's job and process label, and whether its last scrape worked.</summary>
    private static async Task<List<(string Job, string Process, bool Up)>> UpTargetsAsync(HttpClient http, int prometheusPort)
    {
        using var reply = await http.GetFromJsonAsync<JsonDocument>($"http://127.0.0.1:{prometheusPort}/api/v1/query?query=up");
        return [.. reply!.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(series =>
        (
            series.GetProperty("metric").GetProperty("job").GetString()!,
            series.GetProperty("metric").TryGetProperty("process", out var process) ? process.GetString()! : "",
            series.GetProperty("value")[1].GetString() == "1"))];
    }
}
