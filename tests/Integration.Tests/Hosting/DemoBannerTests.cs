using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Hosting;

/// <summary>
/// The embedded tracker prints the shipped demo user's announce URL (its passkey is published in the README), and no
/// other passkey: an operator's own seed file holds real ones, and standard output is a journal or a container's log.
/// </summary>
public sealed class DemoBannerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ShippedDemo_PrintsItsAnnounceUrl()
    {
        await using var gateway = StartEmbedded([]);

        await gateway.WaitForOutputAsync("demo0000000000000000000000000001/announce", Patience);
    }

    [Fact]
    public async Task OperatorsOwnSeedFile_ItsPasskeysAreNotPrinted()
    {
        var seed = Path.Combine(Path.GetTempPath(), $"chihaya-seed-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(seed, (await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "deploy", "seed", "demo.json")))
            .Replace("demo0000000000000000000000000001", "operatorsrealpasskey000000000001", StringComparison.Ordinal));
        try
        {
            await using var gateway = StartEmbedded(new Dictionary<string, string> { ["Site__SeedFile"] = seed });
            await gateway.WaitForOutputAsync("embedded tracker is running", Patience);

            Assert.DoesNotContain("operatorsrealpasskey", gateway.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(seed);
        }
    }

    private static ProjectProcess StartEmbedded(Dictionary<string, string> settings)
    {
        var environment = new Dictionary<string, string>
        {
            ["Cluster__SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster__GatewayPort"] = FreePorts.Next().ToString(),
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return ProjectProcess.Start("Gateway", environment, "--urls", $"http://127.0.0.1:{FreePorts.Next()}");
    }
}
