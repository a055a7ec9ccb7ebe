using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// Stops a child process the way an operator or a service manager does: a signal it can handle (so it says
/// goodbye: a silo hands its grains on, a torrent client announces <c>event=stopped</c>), a bounded wait, then SIGKILL.
/// </summary>
public static class GracefulStop
{
    public const int Interrupt = 2;
    public const int Terminate = 15;
    public const int Continue = 18;
    public const int Pause = 19;

    /// <summary>Sends <paramref name="signal"/> (e.g. <see cref="Pause"/>, which no process can handle or ignore).</summary>
    public static void Send(Process process, int signal) => _ = SendSignal(process.Id, signal);

    /// <summary>Returns true if the process exited on <paramref name="signal"/>, false if it had to be killed.</summary>
    public static async Task<bool> StopAsync(Process process, int signal, TimeSpan timeout)
    {
        if (process.HasExited)
        {
            return true;
        }

        _ = SendSignal(process.Id, signal);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return false;
        }
    }

    // .NET itself can only send SIGKILL.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int processId, int signal);
}
