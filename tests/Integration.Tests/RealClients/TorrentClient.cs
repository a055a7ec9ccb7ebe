using System.Diagnostics;
using System.Net;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

internal enum ClientRole
{
    /// <summary>Starts with the whole payload in its data folder.</summary>
    Seeder,

    /// <summary>Starts with nothing and downloads from the swarm.</summary>
    Leecher,
}

/// <summary>
/// One real BitTorrent client process with a folder of its own (configuration, logs, and the payload under
/// <see cref="DataFolder"/>). Each client binds its own loopback address: rTorrent keeps one connection per
/// peer address, so clients sharing 127.0.0.1 would not find each other, and the tracker sees distinct
/// peers as it does in production. DHT, peer exchange and local discovery stay off in every client, so
/// only the tracker introduces peers.
/// </summary>
internal abstract class TorrentClient : IAsyncDisposable
{
    private readonly Lock _logLock = new();
    private Process? _process;
    private StreamWriter? _log;

    protected TorrentClient(string folder, IPAddress address, ClientRole role)
    {
        Folder = folder;
        Address = address;
        Role = role;
        PeerPort = FreePorts.Next(address);
        Directory.CreateDirectory(DataFolder);
    }

    public string Name => Path.GetFileName(Folder);

    public string Folder { get; }

    /// <summary>Where the client keeps the torrent's file.</summary>
    public string DataFolder => Path.Combine(Folder, "data");

    protected IPAddress Address { get; }

    protected ClientRole Role { get; }

    /// <summary>The port the client accepts peers on, free on <see cref="Address"/>.</summary>
    protected int PeerPort { get; }

    /// <summary>The signal on which the client announces <c>event=stopped</c> and exits.</summary>
    protected virtual int GracefulStopSignal => GracefulStop.Terminate;

    /// <summary>Starts the client on <paramref name="torrentFile"/> and returns once the client has the torrent.</summary>
    public async Task StartAsync(string torrentFile, TimeSpan timeout)
    {
        var start = Prepare(torrentFile);
        start.WorkingDirectory = Folder;
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        _log = new StreamWriter(Path.Combine(Folder, "client.log")) { AutoFlush = true };
        _process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");

        // No client may wait for input from the terminal the tests run in.
        _process.StandardInput.Close();
        _process.OutputDataReceived += (_, line) => Log(line.Data);
        _process.ErrorDataReceived += (_, line) => Log(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Log($"[test] started {start.FileName} pid {_process.Id} on {Address}:{PeerPort} as {Role}");
        await AddTorrentAsync(torrentFile, timeout);
    }

    /// <summary>Fails the test at once when the client is gone: waiting on would only end in a timeout.</summary>
    public void ThrowIfExited()
    {
        if (_process is { HasExited: true })
        {
            throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}; see {Folder}.");
        }
    }

    /// <summary>Stops the client gracefully, so it announces <c>event=stopped</c>; kills it if it has not exited within <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process is not null && !await GracefulStop.StopAsync(_process, GracefulStopSignal, timeout))
        {
            Log($"[test] no exit within {timeout.TotalSeconds:0} s of signal {GracefulStopSignal}: killed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        if (_process is not null)
        {
            // Also waits until the output is read to its end, so nothing is written to the log after this.
            await _process.WaitForExitAsync();
            _process.Dispose();
        }

        lock (_logLock)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    /// <summary>Writes the client's configuration and says how to start it.</summary>
    protected abstract ProcessStartInfo Prepare(string torrentFile);

    /// <summary>For clients that take the torrent after start-up rather than on the command line.</summary>
    protected virtual Task AddTorrentAsync(string torrentFile, TimeSpan timeout) => Task.CompletedTask;

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            _log?.WriteLine(line);
        }
    }
}
