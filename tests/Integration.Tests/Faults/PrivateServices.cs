using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Faults;

/// <summary>
/// A PostgreSQL and a Redis server of one test's own, started by <c>deploy/scripts/local-services.sh</c> in a folder
/// of their own, so the test can take one of them away without touching the servers other tests share.
/// </summary>
public sealed class PrivateServices : IAsyncDisposable
{
    private PrivateServices(string folder, IReadOnlyDictionary<string, string> environment)
    {
        Folder = folder;
        PostgresServer = environment["CHIHAYA_TEST_POSTGRES"];
        Redis = environment["CHIHAYA_TEST_REDIS"];
    }

    public string Folder { get; }

    /// <summary>The superuser's connection to the server, for <see cref="PostgresTestDatabase.CreateAsync"/>.</summary>
    public string PostgresServer { get; }

    public string Redis { get; }

    public static async Task<PrivateServices> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "chihaya-faults-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            await RunScriptAsync("start", folder);
        }
        catch (InvalidOperationException)
        {
            await RunScriptAsync("stop", folder);
            Directory.Delete(folder, recursive: true);
            throw;
        }

        // The script writes the servers' addresses as shell exports: export NAME="value".
        var environment = File.ReadAllLines(Path.Combine(folder, "env"))
            .Select(line => line.StartsWith("export ", StringComparison.Ordinal) ? line["export ".Length..] : line)
            .Select(line => line.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1].Trim('"'), StringComparer.Ordinal);
        return new PrivateServices(folder, environment);
    }

    /// <summary>A fast shutdown of PostgreSQL alone (open connections are cut); its data stays.</summary>
    public Task StopPostgresAsync() => RunScriptAsync("stop", Folder, "postgres");

    /// <summary>Redis alone, shut down without saving: when it starts again it is empty.</summary>
    public Task StopRedisAsync() => RunScriptAsync("stop", Folder, "redis");

    /// <summary>Starts again whichever server is stopped, on the same port and (PostgreSQL) with the same data.</summary>
    public Task RestartStoppedAsync() => RunScriptAsync("start", Folder);

    public async ValueTask DisposeAsync()
    {
        await RunScriptAsync("stop", Folder);
        Directory.Delete(Folder, recursive: true);
    }

    private static async Task RunScriptAsync(params string[] arguments)
    {
        var (exitCode, output) = await RepositoryScript.RunAsync("deploy/scripts/local-services.sh", TimeSpan.FromMinutes(3), arguments: arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"local-services.sh {string.Join(' ', arguments)} exited with {exitCode}:\n{output}");
        }
    }
}
