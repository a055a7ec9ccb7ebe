using System.Net;
using System.Net.Sockets;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Hosting;

/// <summary>
/// An operator's mistake at start (a setting that cannot be read, a misspelt key, a value out of range, a port
/// another process holds) ends the program with one clear line naming it and exit status 2, no stack trace.
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
    public async Task Gateway_BadSetting_OneLineNamingItAndExitStatus2(string key, string value, string expected)
    {
        var (exitCode, output) = await RunGatewayAsync(new Dictionary<string, string> { [key] = value });

        AssertOneLineProblem(exitCode, output, expected);
    }

    [Fact]
    public async Task Silo_RedisMembershipWithoutRedis_OneLineAndExitStatus2()
    {
        await using var silo = ProjectProcess.Start("Silo", new Dictionary<string, string> { ["Cluster__Membership"] = "Redis" });

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

    private static async Task<(int ExitCode, string Output)> RunGatewayAsync(Dictionary<string, string> settings, string? url = null)
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

    private static void AssertOneLineProblem(int exitCode, string output, string expected)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(exitCode == 2 && lines.Length == 1, $"exit {exitCode}, {lines.Length} lines:\n{output}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", lines[0], StringComparison.Ordinal);
    }
}
