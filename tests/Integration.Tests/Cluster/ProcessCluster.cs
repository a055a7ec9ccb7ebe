using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Chihaya.Orleans.TestSupport;
using StackExchange.Redis;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// The production shape for real: N silo processes and M gateway processes (behind nginx when there are several),
/// clustered through the Redis server and storing into a fresh database on the PostgreSQL server that
/// <c>./test.sh</c> started (or on servers of the test's own, for a test that stops them).
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly List<ProjectProcess> _silos = [];
    private readonly List<int> _siloHttpPorts = [];
    private readonly List<(int SiloPort, int GatewayPort)> _siloClusterPorts = [];
    private readonly List<ProjectProcess> _gateways = [];
    private readonly List<int> _gatewayPorts = [];
    // Gateways replaced by RestartGatewayAsync: their output still belongs in the logs.
    private readonly List<ProjectProcess> _formerGateways = [];
    private readonly Dictionary<string, string> _common;
    private LoadBalancer? _loadBalancer;

    private ProcessCluster(PostgresTestDatabase database, Dictionary<string, string> common, string adminToken)
    {
        Database = database;
        _common = common;
        AdminToken = adminToken;
    }

    public PostgresTestDatabase Database { get; }

    /// <summary>The first gateway (the only one, unless the cluster was started with more).</summary>
    public ProjectProcess Gateway => _gateways[0];

    public IReadOnlyList<ProjectProcess> Gateways => _gateways;

    public IReadOnlyList<ProjectProcess> Silos => _silos;

    /// <summary>Each silo's HTTP port (health probes), in start order.</summary>
    public IReadOnlyList<int> SiloHttpPorts => _siloHttpPorts;

    /// <summary>Each silo's silo-to-silo and gateway (Orleans client) ports, in start order.</summary>
    public IReadOnlyList<(int SiloPort, int GatewayPort)> SiloClusterPorts => _siloClusterPorts;

    public string AdminToken { get; }

    /// <summary>The Orleans cluster id, unique to this test.</summary>
    public string ClusterId => _common["Cluster__ClusterId"];

    /// <summary>Where clients announce: nginx when there are several gateways, else the gateway itself.</summary>
    public HttpClient Http { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    /// <param name="silos">How many silo processes to start.</param>
    /// <param name="settings">Settings for every process, over the cluster's own.</param>
    /// <param name="postgresServer">A superuser's connection to the PostgreSQL server to use instead of <c>CHIHAYA_TEST_POSTGRES</c>.</param>
    /// <param name="redis">The Redis server to cluster through instead of <c>CHIHAYA_TEST_REDIS</c>.</param>
    /// <param name="gateways">How many gateway processes to start; more than one puts nginx in front of them.</param>
    public static async Task<ProcessCluster> StartAsync(
        int silos, IReadOnlyDictionary<string, string>? settings = null, string? postgresServer = null, string? redis = null, int gateways = 1)
    {
        redis ??= Environment.GetEnvironmentVariable("CHIHAYA_TEST_REDIS")
            ?? throw new InvalidOperationException("CHIHAYA_TEST_REDIS is not set: run the tests with ./test.sh.");
        var database = await PostgresTestDatabase.CreateAsync(postgresServer);
        var common = new Dictionary<string, string>
        {
            ["Cluster__Membership"] = "Redis",
            ["Cluster__Redis"] = redis,
            // A cluster id of its own keeps this test's membership apart in the shared Redis.
            ["Cluster__ClusterId"] = "test-" + Guid.NewGuid().ToString("N")[..12],
            ["Cluster__AdvertisedAddress"] = "127.0.0.1",
            ["Site__Store"] = "Postgres",
            ["Database__ConnectionString"] = database.ConnectionString,
            ["Stats__FlushInterval"] = "00:00:00.200",
            // nginx, when there is one, runs on loopback.
            ["Gateway__TrustedProxies__0"] = "127.0.0.0/8",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            common[key] = value;
        }

        var cluster = new ProcessCluster(database, common, Convert.ToHexString(Guid.NewGuid().ToByteArray()));
        int entry;
        try
        {
            for (var i = 0; i < silos; i++)
            {
                await cluster.StartSiloAsync();
            }

            for (var i = 0; i < gateways; i++)
            {
                cluster._gatewayPorts.Add(FreePorts.Next());
                cluster._gateways.Add(await cluster.StartGatewayProcessAsync(cluster._gatewayPorts[i]));
            }

            entry = cluster._gatewayPorts[0];
            if (gateways > 1)
            {
                cluster._loadBalancer = await LoadBalancer.StartAsync(cluster._gatewayPorts);
                entry = cluster._loadBalancer.Port;
            }
        }
        catch
        {
            // A cluster that failed to start is nobody's to stop: what did start would otherwise run (and load the
            // machine) until the test run ends.
            await cluster.DisposeAsync();
            throw;
        }

        cluster.Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{entry}") };
        cluster.Admin = new HttpClient { BaseAddress = cluster.Http.BaseAddress };
        cluster.Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", cluster.AdminToken);
        return cluster;
    }

    public async Task<ProjectProcess> StartSiloAsync()
    {
        var (httpPort, siloPort, gatewayPort) = (FreePorts.Next(), FreePorts.Next(), FreePorts.Next());
        var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>(_common)
        {
            ["Cluster__SiloPort"] = siloPort.ToString(),
            ["Cluster__GatewayPort"] = gatewayPort.ToString(),
            ["Urls"] = $"http://127.0.0.1:{httpPort}",
        });
        _silos.Add(silo);
        _siloHttpPorts.Add(httpPort);
        _siloClusterPorts.Add((siloPort, gatewayPort));
        // A silo replacing a killed one waits until the dead one's membership entry is stale (30 s).
        await silo.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(120));
        return silo;
    }

    private async Task<ProjectProcess> StartGatewayProcessAsync(int port)
    {
        var gateway = ProjectProcess.Start("Gateway", new Dictionary<string, string>(_common)
        {
            ["Cluster__Mode"] = "Client",
            ["Admin__Token"] = AdminToken,
        }, "--urls", $"http://127.0.0.1:{port}");
        try
        {
            await gateway.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(60));
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>
    /// Replaces a gateway with a new process on the same port, as behind a load balancer's fixed address, so
    /// <see cref="Http"/> keeps working: after a graceful stop (SIGTERM), or after SIGKILL when <paramref name="kill"/>.
    /// </summary>
    public async Task RestartGatewayAsync(bool kill, int gateway = 0)
    {
        await StopGatewayAsync(kill, gateway);
        await StartGatewayAgainAsync(gateway);
    }

    /// <summary>Stops one gateway, gracefully (SIGTERM) or with SIGKILL, leaving its port empty until <see cref="StartGatewayAgainAsync"/>.</summary>
    public async Task StopGatewayAsync(bool kill, int gateway)
    {
        var old = _gateways[gateway];
        _formerGateways.Add(old);
        if (kill)
        {
            old.Kill();
            await old.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        else
        {
            await old.StopAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>A new process for a stopped gateway, on its old port.</summary>
    public async Task StartGatewayAgainAsync(int gateway) =>
        _gateways[gateway] = await StartGatewayProcessAsync(_gatewayPorts[gateway]);

    /// <summary>Announces a gateway has accepted since it started, from its <c>/metrics</c>.</summary>
    public async Task<long> AcceptedAnnouncesAsync(int gateway)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{_gatewayPorts[gateway]}/metrics");
        return metrics.Split('\n')
            .Where(line => line.StartsWith("chihaya_announces_total{", StringComparison.Ordinal) && line.Contains("outcome=\"accepted\"", StringComparison.Ordinal))
            .Sum(line => long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>How many swarms a silo holds now, as its <c>/readyz</c> reports them.</summary>
    public async Task<int> SwarmsHeldAsync(int silo)
    {
        var (_, report) = await ReadinessAsync(_siloHttpPorts[silo]);
        var swarms = report.RootElement.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == "swarms");
        var detail = swarms.GetProperty("detail").GetString()!;
        return int.Parse(detail[..detail.IndexOf(' ', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A process's <c>/readyz</c>: its status code and JSON report.</summary>
    public static async Task<(int Status, JsonDocument Report)> ReadinessAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync($"http://127.0.0.1:{port}/readyz");
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()));
    }

    public async Task<Dictionary<string, object>> AnnounceAsync(Announcer peer, long uploaded, long downloaded, long left, string? announceEvent = null)
    {
        using var response = await Http.GetAsync(peer.Url(uploaded, downloaded, left, announceEvent));
        return Bencode.DecodeDictionary(await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>
    /// Announces until the tracker accepts, for a while the cluster is changing (a silo joining or leaving, membership
    /// restored): a refusal or a failed request then is a reply to try again, not an error.
    /// </summary>
    public async Task<Dictionary<string, object>> AnnounceUntilAcceptedAsync(Announcer peer, long uploaded, long downloaded, long left, TimeSpan timeout, string? announceEvent = null)
    {
        var reply = await Eventually.ValueAsync(
            async () =>
            {
                try
                {
                    return await AnnounceAsync(peer, uploaded, downloaded, left, announceEvent);
                }
                catch (HttpRequestException)
                {
                    return null;
                }
            },
            reply => reply is not null && Replies.FailureReason(reply) is null,
            timeout);
        Assert.True(reply is not null && Replies.FailureReason(reply) is null, "no announce was accepted\n" + Logs);
        return reply;
    }

    /// <summary>
    /// The silos in the cluster's membership hash in Redis (one hash per cluster, a field per silo address, beside
    /// the table's Version) with their status, read as Orleans wrote them.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, SiloStatus>> MembershipAsync()
    {
        await using var redis = await ConnectRedisAsync();
        var rows = await redis.GetDatabase().HashGetAllAsync(MembershipKey);
        return rows.Where(row => row.Name != "Version").ToDictionary(row => row.Name.ToString(), row => StatusOf(row.Value.ToString()));
    }

    /// <summary>The membership table's version in Redis, or null when the hash has none (Redis lost it).</summary>
    public async Task<long?> MembershipVersionAsync()
    {
        await using var redis = await ConnectRedisAsync();
        var version = await redis.GetDatabase().HashGetAsync(MembershipKey, "Version");
        return version.IsNull ? null : (long)version;
    }

    private Task<ConnectionMultiplexer> ConnectRedisAsync()
    {
        var redis = ConfigurationOptions.Parse(_common["Cluster__Redis"]);
        if (_common.TryGetValue("Cluster__RedisPassword", out var password))
        {
            redis.Password = password;
        }

        return ConnectionMultiplexer.ConnectAsync(redis);
    }

    /// <summary>The cluster's membership hash in Redis: Orleans names it {ServiceId}/members/{ClusterId}, with the default service id here.</summary>
    public string MembershipKey => $"chihaya/members/{ClusterId}";

    private static SiloStatus StatusOf(string row)
    {
        using var json = JsonDocument.Parse(row);
        var status = json.RootElement.GetProperty("Status");
        return status.ValueKind == JsonValueKind.Number ? (SiloStatus)status.GetInt32() : Enum.Parse<SiloStatus>(status.GetString()!);
    }

    /// <summary>
    /// Stops every silo gracefully (SIGTERM), one after another, so each writes what it holds as it goes. Afterwards
    /// no process writes statistics any more, so a test reads the database without waiting. (It ends writes; it is no
    /// way to wait for statistics, which a test waits for in the tables.)
    /// </summary>
    /// <returns>How each silo ended, in start order; silos that had already ended (killed) say so.</returns>
    public async Task<IReadOnlyList<SiloStop>> StopSilosAsync(TimeSpan? timeout = null)
    {
        var stops = new List<SiloStop>();
        for (var i = 0; i < _silos.Count; i++)
        {
            var wasRunning = !_silos[i].HasExited;
            var watch = Stopwatch.StartNew();
            var graceful = await _silos[i].StopAsync(timeout ?? TimeSpan.FromSeconds(60));
            stops.Add(new SiloStop(i, wasRunning, graceful, watch.Elapsed));
        }

        return stops;
    }

    /// <summary>Everything the processes printed, for a failing test's message.</summary>
    public string Logs => LogsTail(int.MaxValue);

    /// <summary>The last <paramref name="lines"/> lines of each process's output, for a message that must stay readable.</summary>
    public string LogsTail(int lines) => string.Join("\n", Processes().Select(p => $"--- {p.Label}{(p.Process.HasExited ? " (exited)" : "")}\n{Tail(p.Process.Output, lines)}"));

    private IEnumerable<(string Label, ProjectProcess Process)> Processes() =>
        _silos.Select((silo, i) => ($"silo {i}", silo))
            .Concat(_formerGateways.Select((gateway, i) => ($"gateway {i} (replaced)", gateway)))
            .Concat(_gateways.Select((gateway, i) => ($"gateway {i}", gateway)))
            .Concat(_loadBalancer is null ? [] : [("nginx", _loadBalancer.Process)]);

    private static string Tail(string output, int lines)
    {
        var all = output.Split('\n');
        return all.Length <= lines ? output : $"({all.Length - lines} earlier lines left out)\n" + string.Join('\n', all[^lines..]);
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        Admin?.Dispose();
        if (_loadBalancer is not null)
        {
            await _loadBalancer.DisposeAsync();
        }

        foreach (var gateway in _gateways)
        {
            await gateway.DisposeAsync();
        }

        foreach (var gateway in _formerGateways)
        {
            await gateway.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await Database.DisposeAsync();
    }
}

/// <summary>How one silo ended: whether it was still running, whether it left on SIGTERM in time, and how long that took.</summary>
public sealed record SiloStop(int Silo, bool WasRunning, bool Graceful, TimeSpan Took);
