using System.Net.Http.Headers;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// The production shape for real: N silo processes and one gateway process, clustered through the Redis
/// server and storing into a fresh database on the PostgreSQL server that <c>./test.sh</c> started.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly List<ProjectProcess> _silos = [];
    private readonly Dictionary<string, string> _common;

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

    public static async Task<ProcessCluster> StartAsync(int silos, IReadOnlyDictionary<string, string>? settings = null)
    {
        var database = await PostgresTestDatabase.CreateAsync();
        var redis = Environment.GetEnvironmentVariable("CHIHAYA_TEST_REDIS")
            ?? throw new InvalidOperationException("CHIHAYA_TEST_REDIS is not set: run the tests with ./test.sh.");
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
        var port = FreePorts.Next();
        Gateway = ProjectProcess.Start("Gateway", new Dictionary<string, string>(_common)
        {
            ["Cluster__Mode"] = "Client",
            ["Admin__Token"] = AdminToken,
        }, "--urls", $"http://127.0.0.1:{port}");
        await Gateway.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(60));
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Admin = new HttpClient { BaseAddress = Http.BaseAddress };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    }

    public async Task<Dictionary<string, object>> AnnounceAsync(Announcer peer, long uploaded, long downloaded, long left, string? announceEvent = null)
    {
        using var response = await Http.GetAsync(peer.Url(uploaded, downloaded, left, announceEvent));
        return Bencode.DecodeDictionary(await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>
    /// Stops every silo gracefully (SIGTERM), one after another, so each hands on what it holds as it goes. Afterwards
    /// no process writes statistics any more, so a test reads the database without waiting. (What the last silo
    /// could not hand on stays in grain storage, so this is no way to wait for statistics, only to end writes.)
    /// </summary>
    public async Task StopSilosAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.StopAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>Everything the processes printed, for a failing test's message.</summary>
    public string Logs => string.Join("\n", _silos.Select((s, i) => $"--- silo {i}\n{s.Output}").Append($"--- gateway\n{Gateway?.Output}"));

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        Admin?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await Database.DisposeAsync();
    }
}
