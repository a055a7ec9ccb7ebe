using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// Bounds a graceful stop, so a silo always leaves within Kubernetes' default 30 s grace: the host stops its
/// services within <see cref="HostStopTimeout"/>, and a stop still hanging at <see cref="ProcessEndsAfter"/> (a
/// service ignoring cancellation, a membership store that never answers) ends the process.
/// </summary>
public static class ShutdownDeadline
{
    /// <summary>How long the host waits for its services to stop (HostOptions.ShutdownTimeout).</summary>
    public static readonly TimeSpan HostStopTimeout = TimeSpan.FromSeconds(20);

    /// <summary>When the process ends, counted from the stop signal, if it has not ended by itself.</summary>
    public static readonly TimeSpan ProcessEndsAfter = TimeSpan.FromSeconds(26);

    /// <summary>Starts the countdown when <paramref name="host"/> begins to stop.</summary>
    public static void Arm(IHost host, string program)
    {
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() => _ = Task.Run(async () =>
        {
            await Task.Delay(ProcessEndsAfter);
            await Console.Error.WriteLineAsync($"{program}: graceful stop still running after {ProcessEndsAfter.TotalSeconds:0} s; ending the process.");
            // Not Environment.Exit: it waits for the very host disposal that is hanging.
            Process.GetCurrentProcess().Kill();
        }));
    }
}
