using System.Net;
using System.Net.Sockets;
using Chihaya.Orleans.Integration.Tests.Cluster;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Hosting;

/// <summary>The exit statuses operators' supervisors see (systemd's unit retries every one but 2).</summary>
internal static class StartupProblemExitCodes
{
    public const int Mistake = 2;
    /// <summary>Something the program needs is not ready yet: the database or Redis does not answer, the schema is not migrated.</summary>
    public const int Unreachable = 3;
}

/// <summary>
/// An operator's mistake at start (a setting that cannot be read, a misspelt key, a value out of range, a port
/// another process holds) ends the program with one clear line naming it and exit status 2, no stack trace; a service
/// it needs that does not answer yet, with one line and exit status 3, which a supervisor retries.
/// </summary>
public sealed class StartupProblemTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("Tracker__AnnounceInterval", "banana", "Tracker:AnnounceInterval: 'banana' is not a time span")]
    [InlineData("Tracker__AnnouncInterval", "00:10:00", "unknown setting 'AnnouncInterval' in section Tracker")]
    [InlineData("Tracker__PeerTimeout", "00:01:00", "Tracker:PeerTimeout must be longer than Tracker:AnnounceInterval")]
    [InlineData("Cluster__Mode", "Embeded", "Cluster:Mode must be Embedded or Client, not 'Embeded'")]
    [InlineData("Cluster__SiloPort", "eleven", "Cluster:SiloPort: 'eleven' is not a whole number")]
    [InlineData("Gateway__TrustedProxies__0", "nginx", "Gateway:TrustedProxies must be IP addresses or CIDR ranges")]
    [InlineData("Cluster__SiloPort", "70000", "Cluster:SiloPort must be a port between 1 and 65535, not 70000")]
    [InlineData("Cluster__ResponseTimeout", "-00:00:05", "Cluster:ResponseTimeout must be between")]
    [InlineData("Cluster__ResponseTimeout", "00:00:02", "Cluster:ResponseTimeout must be between 00:00:05 and 00:05:00 (a call may wait 4.5 s for the site's database), not 00:00:02.")]
    [InlineData("Cluster__AdvertisedAddress", "notanip", "Cluster:AdvertisedAddress must be an IP address")]
    [InlineData("Tracker__PeerTimeout", "200.00:00:00", "Tracker:PeerTimeout must be up to 7.00:00:00")]
    [InlineData("Site__RefreshInterval", "60.00:00:00", "Site:RefreshInterval must be positive and up to 7.00:00:00")]
    [InlineData("Admin__Token", "CHANGE-ME", "Admin:Token must be empty (the admin API off) or 16 characters or more")]
    [InlineData("Admin__Token", "short-token", "Admin:Token must be empty (the admin API off) or 16 characters or more")]
    [InlineData("Admin__Port", "1", "Admin:Port must be 0 (the admin API, status page and /metrics on every port) or one of the ports the gateway listens on (Urls).")]
    public async Task Gateway_BadSetting_OneLineNamingItAndExitStatus2(string key, string value, string expected)
    {
        var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string> { [key] = value });

        AssertOneLineProblem(exitCode, output, expected);
    }

    [Fact]
    public async Task Gateway_UrlThatIsNoUrl_OneLineNamingIt()
    {
        var (exitCode, output) = await RunGatewayAsync([], "notaurl");

        AssertOneLineProblem(exitCode, output, "Urls: 'notaurl' is not a URL");
    }

    [Fact]
    public async Task EmbeddedTracker_ConnectionStringThatCannotBeRead_OneLineNamingItAndNotThePassword()
    {
        var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string>
        {
            ["Site__Store"] = "Postgres",
            // A password with a ';' not quoted: its end reads as a keyword.
            ["Database__ConnectionString"] = "Host=127.0.0.1;Password=secretword;secretpart=1",
        });

        AssertOneLineProblem(exitCode, output, "Database:ConnectionString cannot be read");
        Assert.DoesNotContain("secretword", output, StringComparison.Ordinal);
        Assert.DoesNotContain("secretpart", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"users\": [ { \"passkey\": \"sec", "cannot be read")]
    [InlineData("{ \"users\": [ { \"passkey\": \"not-a-SECRETpasskey!!\", \"id\": 7 } ] }", "user 7: the passkey must be 8 to 64 letters and digits")]
    [InlineData("{ \"users\": [ { \"passkey\": \"SECRETpasskey1\", \"id\": 7 }, { \"passkey\": \"SECRETpasskey1\", \"id\": 8 } ] }", "user 8: its passkey is another user's too")]
    [InlineData("{ \"users\": [ { \"passkey\": \"SECRETpasskey1\", \"id\": 7 }, { \"passkey\": \"SECRETpasskey2\", \"id\": 7 } ] }", "user 7: the id is given to more than one user")]
    [InlineData("{ \"torrents\": [ { \"infoHash\": \"0123456789abcdef0123456789abcdef01234567\", \"id\": 1 }, { \"infoHash\": \"0123456789ABCDEF0123456789ABCDEF01234567\", \"id\": 2 } ] }", "torrent 2: its info hash is another torrent's too")]
    [InlineData("{ \"users\": null }", "\"users\" and \"torrents\" must be lists of objects")]
    [InlineData("{ \"torrents\": [ null ] }", "\"users\" and \"torrents\" must be lists of objects")]
    public async Task EmbeddedTracker_BrokenSeedFile_OneLineNamingItAndNoPasskey(string seed, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), $"chihaya-seed-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, seed);
        try
        {
            var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string> { ["Site__SeedFile"] = path });

            AssertOneLineProblem(exitCode, output, $"Site:SeedFile {path}");
            Assert.Contains(expected, output, StringComparison.Ordinal);
            Assert.DoesNotContain("SECRET", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task EmbeddedTracker_DatabaseNotAnswering_OneLineAndExitStatus3ForASupervisorToRetry()
    {
        // A port nothing listens on: the database is restarting, or not up yet after a reboot.
        var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string>
        {
            ["Site__Store"] = "Postgres",
            ["Database__ConnectionString"] = $"Host=127.0.0.1;Port={FreePorts.Next()};Database=site;Username=tracker;Password=secretword;Timeout=5",
        });

        AssertOneLineProblem(exitCode, output, "Database:ConnectionString: the database cannot be reached", StartupProblemExitCodes.Unreachable);
        Assert.DoesNotContain("secretword", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmbeddedTracker_DatabaseHostThatDoesNotResolve_OneLineAndExitStatus3ForASupervisorToRetry()
    {
        // A name the resolver does not know (yet): a Kubernetes service created after the pod, or DNS not up after a
        // reboot. ".invalid" never resolves (RFC 6761); the final dot keeps a search domain from being tried.
        var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string>
        {
            ["Site__Store"] = "Postgres",
            ["Database__ConnectionString"] = "Host=tracker-db.invalid.;Database=site;Username=tracker;Password=secretword;Timeout=5",
        });

        // "cannot be reached (Name or service not known)", or "did not answer in time" where no resolver answers.
        AssertOneLineProblem(exitCode, output, "Database:ConnectionString: the database ", StartupProblemExitCodes.Unreachable);
        Assert.DoesNotContain("secretword", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silo_RedisNotAnswering_OneLineAndExitStatus3ForASupervisorToRetry()
    {
        await using var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{FreePorts.Next()}",
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
            ["Cluster__Membership"] = "Redis",
            ["Cluster__Redis"] = $"127.0.0.1:{FreePorts.Next()},password=secretword,connectTimeout=3000",
        });

        AssertOneLineProblem(await silo.WaitForExitAsync(Patience), silo.Output, "Cluster:Redis: Redis cannot be reached", StartupProblemExitCodes.Unreachable);
        Assert.DoesNotContain("secretword", silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silo_AdvertisingAnAddressNotOfThisHost_OneLineNamingIt()
    {
        // A silo listens on the address it advertises, so it must be one of this host's (203.0.113.0/24: documentation only).
        await using var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{FreePorts.Next()}",
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
            ["Cluster__Membership"] = "Redis",
            ["Cluster__Redis"] = "127.0.0.1:1",
            ["Cluster__AdvertisedAddress"] = "203.0.113.7",
        });

        AssertOneLineProblem(await silo.WaitForExitAsync(Patience), silo.Output, "cannot be opened on 203.0.113.7, which is no address of this host (Cluster:AdvertisedAddress)");
    }

    [Fact]
    public async Task Silo_RedisRefusingItsPassword_OneLineAndExitStatus2()
    {
        await using var redis = await PasswordProtectedRedis.StartAsync("the,right=one");
        await using var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{FreePorts.Next()}",
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
            ["Cluster__Membership"] = "Redis",
            ["Cluster__Redis"] = redis.Address,
            ["Cluster__RedisPassword"] = "a,wrong=one",
        });

        AssertOneLineProblem(await silo.WaitForExitAsync(Patience), silo.Output, "Redis refused the password");
        Assert.DoesNotContain("wrong", silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silo_NotMigratingAtStart_OnASchemaOlderThanItsRelease_OneLineAndExitStatus3UntilTheMigrationRan()
    {
        // A deploy whose migration job has not run yet: the schema lacks this release's last migration.
        await using var database = await PostgresTestDatabase.CreateAsync(migrateThrough: 7);
        await using var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{FreePorts.Next()}",
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
            ["Site__Store"] = "Postgres",
            ["Database__ConnectionString"] = database.ConnectionString,
            ["Database__MigrateOnStart"] = "false",
        });

        AssertOneLineProblem(await silo.WaitForExitAsync(Patience), silo.Output, "the database schema has version 7, this build needs", StartupProblemExitCodes.Unreachable);
    }

    [Fact]
    public async Task Silo_RedisMembershipWithoutRedis_OneLineAndExitStatus2()
    {
        // Ports of its own, should the check ever let it start.
        await using var silo = ProjectProcess.Start("Silo", new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{FreePorts.Next()}",
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
            ["Cluster__Membership"] = "Redis",
        });

        AssertOneLineProblem(await silo.WaitForExitAsync(Patience), silo.Output, "Cluster:Membership is Redis but Cluster:Redis");
    }

    [Fact]
    public async Task Gateway_HttpPortTaken_OneLineNamingThePort()
    {
        using var holder = HoldPort();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (exitCode, output) = await RunGatewayAsync([], $"http://127.0.0.1:{port}");

        AssertOneLineProblem(exitCode, output, $"Urls: port {port} is already in use");
    }

    [Theory]
    [InlineData("SiloPort")]
    [InlineData("GatewayPort")]
    public async Task EmbeddedTracker_SiloPortTaken_RefusesToStart(string setting)
    {
        using var holder = HoldPort();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string> { [$"Cluster__{setting}"] = port.ToString() });

        AssertOneLineProblem(exitCode, output, $"Cluster:{setting}: port {port} is already in use");
    }

    internal static async Task<(int ExitCode, string Output)> RunGatewayAsync(Dictionary<string, string> settings, string? url = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
            ["Site__SeedFile"] = "",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        await using var gateway = ProjectProcess.Start("Gateway", environment, "--urls", url ?? $"http://127.0.0.1:{FreePorts.Next()}");
        var exitCode = await gateway.WaitForExitAsync(Patience);
        return (exitCode, gateway.Output);
    }

    private static TcpListener HoldPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    internal static void AssertOneLineProblem(int exitCode, string output, string expected, int expectedExitCode = StartupProblemExitCodes.Mistake)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(exitCode == expectedExitCode && lines.Length == 1, $"exit {exitCode}, {lines.Length} lines:\n{output}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", lines[0], StringComparison.Ordinal);
    }
}
