using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Integration.Tests.Deploy;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Integration.Tests.Observability;

/// <summary>
/// deploy/prometheus and deploy/grafana hold together: promtool accepts both scrape configurations; the Kubernetes pods
/// carry the annotations the Kubernetes one reads; and, against what a real tracker exports, every metric the
/// dashboard (and the README) names exists, and a real Prometheus, configured with deploy/prometheus' own files, runs
/// every dashboard query and answers it with data. A metric renamed in the code fails here.
/// </summary>
[Collection(ProcessMetersCollection.Name)]
public sealed partial class DashboardTests
{
    private static readonly string PrometheusFolder = Path.Combine(RepositoryPaths.Root, "deploy", "prometheus");
    private static readonly string DashboardFile = Path.Combine(RepositoryPaths.Root, "deploy", "grafana", "chihaya.json");

    [Fact]
    public async Task ScrapeConfigurations_PassPromtool_AndTheKubernetesPodsAreAnnotatedForThem()
    {
        var folder = Directory.CreateTempSubdirectory("chihaya-promtool-");
        try
        {
            // As cluster.sh runs it: the targets files beside the configuration.
            File.Copy(Path.Combine(PrometheusFolder, "prometheus.yml"), Path.Combine(folder.FullName, "prometheus.yml"));
            Directory.CreateDirectory(Path.Combine(folder.FullName, "targets"));
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "targets", "gateways.json"), TargetsFile(6969, "gateway1"));
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "targets", "silos.json"), TargetsFile(8080, "silo1"));
            var (exit, output) = await PromtoolAsync(Path.Combine(folder.FullName, "prometheus.yml"));
            Assert.True(exit == 0, output);
            Assert.DoesNotContain("WARNING", output, StringComparison.Ordinal);

            // Debian's Prometheus is built without Kubernetes discovery: promtool checks the rest with the discovery
            // swapped for a static target carrying the labels it would give a pod.
            var kubernetes = await File.ReadAllTextAsync(Path.Combine(PrometheusFolder, "kubernetes.yml"));
            var discovery = Assert.Single(Yaml.Documents(kubernetes, "kubernetes.yml").Single().Maps("scrape_configs").SelectMany(job => job.Maps("kubernetes_sd_configs")));
            Assert.Equal("pod", discovery.String("role"));
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "kubernetes.yml"), WithPodTarget(kubernetes, 6969, "gateway"));
            (exit, output) = await PromtoolAsync(Path.Combine(folder.FullName, "kubernetes.yml"));
            Assert.True(exit == 0, output);
        }
        finally
        {
            folder.Delete(recursive: true);
        }

        // The pods say where their /metrics is: the port named http (the program's Urls), or for the gateways the admin
        // port their settings keep it on (Admin__Port), and the endpoint's path.
        var documents = KustomizeLite.Build(Path.Combine(RepositoryPaths.Root, "deploy/k8s/base"));
        var gatewaySettings = documents.Single(document => document.Kind() == "ConfigMap" && document.Name().StartsWith("chihaya-gateway", StringComparison.Ordinal)).Map("data").StringMap();
        foreach (var (name, portName) in new[] { ("chihaya-silo", "http"), ("chihaya-gateway", "admin") })
        {
            var deployment = documents.Single(document => document.Kind() == "Deployment" && document.Name() == name);
            var annotations = deployment.Path("spec", "template", "metadata", "annotations").StringMap();
            var metricsPort = ManifestCheck.Containers(deployment).Single().Maps("ports").Single(port => port.String("name") == portName);
            Assert.Equal("true", annotations["prometheus.io/scrape"]);
            Assert.Equal(metricsPort.String("containerPort"), annotations["prometheus.io/port"]);
            Assert.Equal(MetricsEndpoint.Path, annotations["prometheus.io/path"]);
        }

        Assert.Equal(
            ManifestCheck.Containers(documents.Single(document => document.Kind() == "Deployment" && document.Name() == "chihaya-gateway")).Single().Maps("ports").Single(port => port.String("name") == "admin").String("containerPort"),
            gatewaySettings["Admin__Port"]);
    }

    [Fact]
    public async Task Dashboard_EveryQuery_RunsOnWhatATrackerExports()
    {
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(DashboardFile));
        var queries = CheckLayout(dashboard.RootElement);

        // A tracker that has done everything once: accepted and refused announces and scrapes, and (recorded straight
        // into the silo's instruments, as no database is here to be slow or fail) flush writes, a failed one, a
        // resent flush and a notice's lag. Each series then exists in /metrics.
        await using var host = await TrackerHost.StartAsync();
        var passkey = TrackerFixture.NewPasskey();
        await host.PutUserAsync(passkey, 1);
        var hash = UrlBytes.Random20();
        await host.PutTorrentAsync(hash, 1);
        await host.GetBytesAsync(new Announcer(passkey, hash, UrlBytes.Random20(), 7001).Url(0, 0, 0, "started"));
        await host.GetBytesAsync(new Announcer(TrackerFixture.NewPasskey(), hash, UrlBytes.Random20(), 7002).Url(0, 0, 0, "started"));
        var scrape = $"/scrape?info_hash={string.Concat(hash.Select(b => $"%{b:X2}"))}";
        await host.GetBytesAsync($"/{passkey}{scrape}");
        await host.GetBytesAsync($"/{TrackerFixture.NewPasskey()}{scrape}");
        var silo = host.Services.GetRequiredService<SiloMetrics>();
        silo.FlushWritten(TimeSpan.FromMilliseconds(3));
        silo.FlushWriteFailed(TimeSpan.FromMilliseconds(40));
        silo.FlushToBeResent();
        silo.NoticeArrived(TimeSpan.FromMilliseconds(2));
        var exported = await ExportedAsync(host);

        // Every metric a query names is exported, and every outcome it names is one the gateway counts.
        var outcomes = Enum.GetValues<RequestOutcome>().Select(GatewayMetrics.Label).ToHashSet();
        foreach (var query in queries)
        {
            var names = MetricName().Matches(query).Select(match => match.Value).ToList();
            Assert.True(names.Count > 0, $"names no metric: {query}");
            Assert.All(names, name => Assert.True(exported.Contains(name) || name == "up", $"{name} is not exported (by {query})"));
            Assert.All(OutcomeValue().Matches(query), match => Assert.Contains(match.Groups[1].Value, outcomes));
        }

        // Every tracker metric is on the dashboard and in the README's list.
        var families = exported.Where(name => name.StartsWith("chihaya_", StringComparison.Ordinal)).Select(name => HistogramSuffix().Replace(name, "")).ToHashSet();
        Assert.Equal(14, families.Count);
        var readme = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "README.md"));
        Assert.All(families, family => Assert.True(queries.Any(query => query.Contains(family, StringComparison.Ordinal)), $"{family} is on no panel"));
        Assert.All(families, family => Assert.Contains($"`{family}`", readme, StringComparison.Ordinal));

        // deploy/prometheus' two configurations in one server, scraping every 2 s instead of every 5 s (not every second:
        // while other tests load the machine a scrape can take over a second, and a failed scrape marks every series stale
        // until the next one). prometheus.yml's file-based targets name the process twice, as gateway and as silo;
        // kubernetes.yml's relabelling sees it as a gateway pod.
        var port = host.BaseAddress.Port;
        var local = (await File.ReadAllTextAsync(Path.Combine(PrometheusFolder, "prometheus.yml")))
            .Replace("scrape_interval: 5s", "scrape_interval: 2s", StringComparison.Ordinal)
            .Replace("scrape_timeout: 4s", "scrape_timeout: 2s", StringComparison.Ordinal);
        var kubernetes = WithPodTarget(await File.ReadAllTextAsync(Path.Combine(PrometheusFolder, "kubernetes.yml")), port, "gateway");
        var configuration = local + kubernetes[(kubernetes.IndexOf("scrape_configs:\n", StringComparison.Ordinal) + "scrape_configs:\n".Length)..];
        await using var prometheus = await PrometheusServer.StartAsync(configuration, new Dictionary<string, string>
        {
            ["targets/gateways.json"] = TargetsFile(port, "gateway1"),
            ["targets/silos.json"] = TargetsFile(port, "silo1"),
        });
        Assert.Equal(3, await Eventually.ValueAsync(() => prometheus.QueryAsync("""count(up == 1)"""), up => up == 3, TimeSpan.FromSeconds(30)));
        // The labels each configuration gives its targets: asked over the last minute, as a scrape may fail meanwhile.
        Assert.Equal(1, await prometheus.QueryAsync("""max_over_time(up{job="chihaya-gateway",process="chihaya-gateway-0",namespace="chihaya",node="node-1"}[1m])"""));
        Assert.Equal(1, await prometheus.QueryAsync("""max_over_time(up{job="chihaya-silo",process="silo1"}[1m])"""));

        // Each query as Grafana sends it (its variables filled in) is one Prometheus accepts, and every series it reads is
        // in Prometheus for the job it asks. Presence is asked as the last sample of the past minutes, not as the query's
        // own result: on a machine loaded by the other tests a scrape can fail, which leaves a rate's short window
        // without its two samples and marks instant series stale for a while.
        foreach (var query in queries)
        {
            var promql = query
                .Replace("$gateway_job", "chihaya-gateway", StringComparison.Ordinal)
                .Replace("$silo_job", "chihaya-silo", StringComparison.Ordinal)
                .Replace("$__rate_interval", "1m", StringComparison.Ordinal);
            var reply = await prometheus.QueryReplyAsync(promql);
            Assert.True(reply.GetProperty("status").GetString() == "success", $"{promql}: {reply}");
            foreach (var series in JobSelector().Matches(promql).Select(match => match.Value).Distinct())
            {
                var present = $"count(last_over_time({series}[5m]))";
                var count = await Eventually.ValueAsync(() => prometheus.QueryAsync(present), value => value > 0, TimeSpan.FromSeconds(45));
                Assert.True(count > 0, $"no samples of {series} (read by {promql})");
            }
        }
    }

    /// <summary>
    /// The dashboard's shape: a Prometheus data source variable that every panel and query uses (so it imports into
    /// any Grafana), unique panel ids, panels inside the 24-column grid and not overlapping; returns every query.
    /// </summary>
    private static List<string> CheckLayout(JsonElement dashboard)
    {
        Assert.True(dashboard.GetProperty("schemaVersion").GetInt32() >= 36);
        var variables = dashboard.GetProperty("templating").GetProperty("list").EnumerateArray().ToList();
        var source = Assert.Single(variables, variable => variable.GetProperty("type").GetString() == "datasource");
        Assert.Equal(("datasource", "prometheus"), (source.GetProperty("name").GetString(), source.GetProperty("query").GetString()));
        Assert.Equal(
            ["gateway_job", "silo_job"],
            variables.Where(variable => variable.GetProperty("type").GetString() == "textbox").Select(variable => variable.GetProperty("name").GetString()!).Order());

        var panels = dashboard.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(panels.Count, panels.Select(panel => panel.GetProperty("id").GetInt32()).Distinct().Count());
        var taken = new HashSet<(int X, int Y)>();
        var queries = new List<string>();
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            var grid = panel.GetProperty("gridPos");
            var (x, y, w, h) = (grid.GetProperty("x").GetInt32(), grid.GetProperty("y").GetInt32(), grid.GetProperty("w").GetInt32(), grid.GetProperty("h").GetInt32());
            Assert.True(x >= 0 && w > 0 && x + w <= 24 && h > 0, $"{title} is outside the grid");
            for (var column = x; column < x + w; column++)
            {
                for (var line = y; line < y + h; line++)
                {
                    Assert.True(taken.Add((column, line)), $"{title} overlaps another panel");
                }
            }

            if (panel.GetProperty("type").GetString() == "row")
            {
                continue;
            }

            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.False(string.IsNullOrEmpty(panel.GetProperty("description").GetString()), $"{title} has no description");
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            Assert.Equal(targets.Count, targets.Select(target => target.GetProperty("refId").GetString()).Distinct().Count());
            foreach (var target in targets)
            {
                Assert.Equal("${datasource}", target.GetProperty("datasource").GetProperty("uid").GetString());
                queries.Add(target.GetProperty("expr").GetString()!);
            }
        }

        return queries;
    }

    /// <summary>The names of every series in the tracker's /metrics.</summary>
    private static async Task<HashSet<string>> ExportedAsync(TrackerHost host)
    {
        var text = await host.Http.GetStringAsync(MetricsEndpoint.Path);
        return text.Split('\n')
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line[..line.IndexOfAny(['{', ' '])])
            .ToHashSet();
    }

    private static string TargetsFile(int port, string process) =>
        $$$"""[{"targets": ["127.0.0.1:{{{port}}}"], "labels": {"process": "{{{process}}}"}}]""";

    /// <summary>kubernetes.yml with its pod discovery replaced by one static target with the labels it gives a pod.</summary>
    private static string WithPodTarget(string kubernetes, int port, string component)
    {
        var replaced = PodDiscovery().Replace(kubernetes, $$"""
                static_configs:
                  - targets: ['discovered-pod:1']
                    labels: {__meta_kubernetes_pod_ip: 127.0.0.1, __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true', __meta_kubernetes_pod_annotation_prometheus_io_port: '{{port}}', __meta_kubernetes_pod_annotation_prometheus_io_path: /metrics, __meta_kubernetes_pod_label_app_kubernetes_io_name: chihaya, __meta_kubernetes_pod_label_app_kubernetes_io_component: {{component}}, __meta_kubernetes_pod_phase: Running, __meta_kubernetes_pod_name: chihaya-{{component}}-0, __meta_kubernetes_namespace: chihaya, __meta_kubernetes_pod_node_name: node-1}

            """);
        Assert.NotEqual(kubernetes, replaced);
        return replaced;
    }

    private static async Task<(int ExitCode, string Output)> PromtoolAsync(string configuration)
    {
        var start = new ProcessStartInfo("promtool", ["check", "config", configuration]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(start)!;
        var output = promtool.StandardOutput.ReadToEndAsync();
        var errors = promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        return (promtool.ExitCode, await output + await errors);
    }

    [GeneratedRegex(@"\b(?:chihaya|orleans|dotnet|http_server|kestrel|up)(?:_[a-z0-9_]+)?\b(?=\s*[{\[)])")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"\b(?:chihaya|orleans|dotnet|http_server|kestrel)_[a-z0-9_]+\{[^}]*\}")]
    private static partial Regex JobSelector();

    [GeneratedRegex(@"outcome!?=~?""([^""]+)""")]
    private static partial Regex OutcomeValue();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"    kubernetes_sd_configs:\n(      .*\n)+")]
    private static partial Regex PodDiscovery();
}

/// <summary>
/// Tests that read an in-process tracker's <c>/metrics</c> run alone: OpenTelemetry's meter provider listens to meters
/// by name across the whole process, so another in-process tracker's instruments, and their disposal when its test
/// ends, showed in this one's export (series missing from Prometheus when the suite ran in parallel, never alone).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMetersCollection
{
    public const string Name = "Process meters";
}
