using System.Diagnostics;

namespace Chihaya.Orleans.TestSupport;

/// <summary>One of the repository's shell scripts, run to its end as an operator would run it.</summary>
public static class RepositoryScript
{
    /// <summary>
    /// Runs <c>bash {script} {arguments}</c> from the repository root, with <paramref name="environment"/> over this
    /// process's own, and returns its exit status and everything it printed. Killed at <paramref name="deadline"/>.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string script, TimeSpan deadline, IReadOnlyDictionary<string, string>? environment = null, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryPaths.Root, script), .. arguments])
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The shared servers' ports, exported by ./test.sh: a script starting servers of its own would take them too.
        start.Environment.Remove("CHIHAYA_PG_PORT");
        start.Environment.Remove("CHIHAYA_REDIS_PORT");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} {string.Join(' ', arguments)} still running after {deadline}:\n{await output}\n{await errors}");
        }

        return (process.ExitCode, await output + await errors);
    }
}
