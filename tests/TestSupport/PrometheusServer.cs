using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// Debian's Prometheus server on loopback, with a data folder of its own, scraping the given targets every second;
/// queried through its HTTP API as an operator's dashboards and alerts query it.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private const string Program = "/usr/bin/prometheus";

    private readonly DirectoryInfo _folder;
    private readonly HttpClient _api;

    private PrometheusServer(ProjectProcess process, DirectoryInfo folder, int port)
    {
        Process = process;
        _folder = folder;
        _api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public ProjectProcess Process { get; }

    /// <summary>Starts Prometheus scraping each job's targets (<c>127.0.0.1:port</c>) every second, and waits until it is ready.</summary>
    public static Task<PrometheusServer> StartAsync(IReadOnlyDictionary<string, int[]> jobs)
    {
        var scrapeConfigs = string.Concat(jobs.Select(job => $"""
              - job_name: {job.Key}
                static_configs:
                  - targets: [{string.Join(", ", job.Value.Select(port => $"'127.0.0.1:{port}'"))}]

            """));
        return StartAsync($"""
            global:
              scrape_interval: 2s
              scrape_timeout: 2s
            scrape_configs:
            {scrapeConfigs}
            """);
    }

    /// <summary>
    /// Starts Prometheus with a configuration of the caller's, written as <c>prometheus.yml</c> into a folder of its own
    /// beside <paramref name="files"/> (relative names, e.g. file-based discovery's targets), and waits until it is ready.
    /// </summary>
    public static async Task<PrometheusServer> StartAsync(string configuration, IReadOnlyDictionary<string, string>? files = null)
    {
        if (!File.Exists(Program))
        {
            throw new InvalidOperationException($"{Program} is missing: run the tests with ./test.sh, which installs Debian's prometheus.");
        }

        var folder = Directory.CreateTempSubdirectory("chihaya-prometheus-");
        var config = Path.Combine(folder.FullName, "prometheus.yml");
        foreach (var (name, content) in files ?? new Dictionary<string, string>())
        {
            var path = Path.Combine(folder.FullName, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, content);
        }

        await File.WriteAllTextAsync(config, configuration);
        var port = FreePorts.Next();
        var process = ProjectProcess.StartProgram(
            "prometheus",
            Program,
            $"--config.file={config}",
            $"--storage.tsdb.path={Path.Combine(folder.FullName, "data")}",
            $"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn");
        var server = new PrometheusServer(process, folder, port);
        var ready = await Eventually.ValueAsync(
            async () =>
            {
                try
                {
                    using var response = await server._api.GetAsync("/-/ready");
                    return response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            up => up || process.HasExited,
            TimeSpan.FromSeconds(30));
        if (!ready)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException("Prometheus did not become ready: " + process.Output);
        }

        return server;
    }

    /// <summary>An instant query's single value, or null when it has no result (yet).</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        using var reply = await _api.GetFromJsonAsync<JsonDocument>("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var data = reply!.RootElement.GetProperty("data");
        var result = data.GetProperty("result");
        if (result.GetArrayLength() == 0)
        {
            return null;
        }

        var value = data.GetProperty("resultType").GetString() == "scalar" ? result : result[0].GetProperty("value");
        return double.Parse(value[1].GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// An instant query's whole reply, as Prometheus' HTTP API gives it: <c>status</c> ("success" or "error", with
    /// <c>error</c> saying why, e.g. a PromQL syntax error) and <c>data</c>.
    /// </summary>
    public async Task<JsonElement> QueryReplyAsync(string promql)
    {
        using var response = await _api.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        using var reply = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
        return reply.RootElement.Clone();
    }

    /// <summary>Whether every target of the job was scraped successfully at the last try.</summary>
    public async Task<bool> AllUpAsync(string job) => await QueryAsync($"min(up{{job=\"{job}\"}})") == 1;

    public async ValueTask DisposeAsync()
    {
        _api.Dispose();
        await Process.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}
