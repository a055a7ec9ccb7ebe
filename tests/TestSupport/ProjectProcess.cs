using System.Diagnostics;
using System.Text;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// One of the tracker's programs (Silo or Gateway) running as a real, separate process, from the build
/// output of the same configuration as the tests. Its output goes to a log the test can show on failure.
/// </summary>
public sealed class ProjectProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ProjectProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        process.OutputDataReceived += (_, line) => Append(line.Data);
        process.ErrorDataReceived += (_, line) => Append(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>dotnet Chihaya.Orleans.{project}.dll</c> with the given environment.</summary>
    public static ProjectProcess Start(string project, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var folder = Path.Combine(RepositoryPaths.Root, project, "bin", configuration, "net10.0");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(folder, $"Chihaya.Orleans.{project}.dll"), .. arguments])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_ENVIRONMENT"] = "Testing";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new ProjectProcess(Process.Start(start)!, project);
    }

    /// <summary>Starts another program (nginx, say) the same way: output kept for the test, stopped on dispose.</summary>
    public static ProjectProcess StartProgram(string name, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        return new ProjectProcess(Process.Start(start)!, name);
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails with the output if the process dies or time runs out.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var printed = await Eventually.ValueAsync(
            () => Task.FromResult(Output.Contains(text, StringComparison.Ordinal)),
            printed => printed || _process.HasExited,
            timeout);
        if (!printed)
        {
            throw new InvalidOperationException($"{Name} did not print '{text}' (exited: {_process.HasExited}). Output:\n{Output}");
        }
    }

    /// <summary>Waits for the process to end by itself and returns its exit status; kills it and fails at the deadline.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{Name} was still running after {timeout}. Output:\n{Output}");
        }

        // The exit event can come before the last output lines have been read.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process gets no chance to clean up, as with <c>kill -9</c>.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGSTOP: the process freezes mid-step, as a silo cut off by a network partition looks to the others.</summary>
    public void Pause() => GracefulStop.Send(_process, GracefulStop.Pause);

    /// <summary>SIGCONT: a paused process carries on where it stopped, unaware of what happened meanwhile.</summary>
    public void Resume() => GracefulStop.Send(_process, GracefulStop.Continue);

    /// <summary>
    /// SIGTERM, then waits for a graceful exit; true if it came in time with status 0, false if the process had to be
    /// killed or ended itself some other way (our programs end themselves when their graceful stop hangs).
    /// </summary>
    public async Task<bool> StopAsync(TimeSpan timeout) =>
        await GracefulStop.StopAsync(_process, GracefulStop.Terminate, timeout) && _process.ExitCode == 0;

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(15));
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
