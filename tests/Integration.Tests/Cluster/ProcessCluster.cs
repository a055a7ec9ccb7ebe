using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Chihaya.Orleans.TestSupport;
using StackExchange.Redis;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// The production shape for real: N silo processes and one gateway process, clustered through the Redis
/// server and storing into a fresh database on the PostgreSQL server that <c>./test.sh</c> started (or on
/// servers of the test's own, for a test that stops them).
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly List<ProjectProcess> _silos = [];
    // Gateways replaced by RestartGatewayAsync: their output still belongs in the logs.
    private readonly List<ProjectProcess> _formerGateways = [];
    private readonly Dictionary<string, string> _common;
    private int _gatewayPort;

    private ProcessCluster(PostgresTestDatabase database, Dictionary<string, string> common, string adminToken)
    {
        Database = database;
        _common = common;
        AdminToken = adminToken;
    }

    public PostgresTestDatabase Database { get; }

    public ProjectProcess Gateway { get; private set; } = null!;

    public IReadOnlyList<ProjectProcess> Silos => _silos;

    public string AdminToken { get; }

    /// <summary>The Orleans cluster id, unique to this test.</summary>
    public string ClusterId => _common["Cluster__ClusterId"];

    public HttpClient Http { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    /// <param name="silos">How many silo processes to start.</param>
    /// <param name="settings">Settings for every process, over the cluster's own.</param>
    /// <param name="postgresServer">A superuser's connection to the PostgreSQL server to use instead of <c>CHIHAYA_TEST_POSTGRES</c>.</param>
    /// <param name="redis">The Redis server to cluster through instead of <c>CHIHAYA_TEST_REDIS</c>.</param>
    public static async Task<ProcessCluster> StartAsync(
        int silos, IReadOnlyDictionary<string, string>? settings = null, string? postgresServer = null, string? redis = null)
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
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            common[key] = value;
        }

        var cluster = new ProcessCluster(database, common, Convert.ToHexString(Guid.NewGuid().ToByteArray()));
        for (var i = 0; i < silos; i++)
        {
            await cluster.StartSiloAsync();
        }

        await cluster.StartGatewayAsync();
        return cluster;
    }

    public async Task<ProjectProcess> StartSiloAsync()
    {
        var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>(_common)
        {
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
        });
        _silos.Add(silo);
        // A silo replacing a killed one waits until the dead one's membership entry is stale (30 s).
        await silo.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(120));
        return silo;
    }

    private async Task StartGatewayAsync()
    {
        _gatewayPort = FreePorts.Next();
        await StartGatewayProcessAsync();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_gatewayPort}") };
        Admin = new HttpClient { BaseAddress = Http.BaseAddress };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    }

    private async Task StartGatewayProcessAsync()
    {
        Gateway = ProjectProcess.Start("Gateway", new Dictionary<string, string>(_common)
        {
            ["Cluster__Mode"] = "Client",
            ["Admin__Token"] = AdminToken,
        }, "--urls", $"http://127.0.0.1:{_gatewayPort}");
        await Gateway.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// Replaces the gateway with a new process on the same port, as behind a load balancer's fixed address, so
    /// <see cref="Http"/> keeps working: after a graceful stop (SIGTERM), or after SIGKILL when <paramref name="kill"/>.
    /// </summary>
    public async Task RestartGatewayAsync(bool kill)
    {
        var old = Gateway;
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

        await StartGatewayProcessAsync();
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
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_common["Cluster__Redis"]);
        var rows = await redis.GetDatabase().HashGetAllAsync(MembershipKey);
        return rows.Where(row => row.Name != "Version").ToDictionary(row => row.Name.ToString(), row => StatusOf(row.Value.ToString()));
    }

    /// <summary>The membership table's version in Redis, or null when the hash has none (Redis lost it).</summary>
    public async Task<long?> MembershipVersionAsync()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_common["Cluster__Redis"]);
        var version = await redis.GetDatabase().HashGetAsync(MembershipKey, "Version");
        return version.IsNull ? null : (long)version;
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
    public string LogsTail(int lines) => string.Join("\n", Processes().Select(p => $"--- {p.Label}\n{Tail(p.Process.Output, lines)}"));

    private IEnumerable<(string Label, ProjectProcess Process)> Processes() =>
        _silos.Select((silo, i) => ($"silo {i}", silo))
            .Concat(_formerGateways.Select((gateway, i) => ($"gateway {i} (replaced)", gateway)))
            .Concat(Gateway is null ? [] : [("gateway", Gateway)]);

    private static string Tail(string output, int lines)
    {
        var all = output.Split('\n');
        return all.Length <= lines ? output : $"({all.Length - lines} earlier lines left out)\n" + string.Join('\n', all[^lines..]);
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        Admin?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
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
