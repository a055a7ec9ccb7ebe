using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Status;

/// <summary>
/// Sends this process's report to the cluster's status every <see cref="StatusOptions.ReportInterval"/>, by the tracker's
/// clock. A report that fails (no silo yet, the status grain moving) is dropped; the next one follows.
/// </summary>
public abstract partial class PeriodicStatusReporter(IOptions<StatusOptions> options, TimeProvider time, ILogger logger) : BackgroundService
{
    /// <summary>The tracker's clock: reports are stamped and sent by it.</summary>
    protected TimeProvider Time { get; } = time;

    /// <summary>Measures and sends one report.</summary>
    protected abstract Task ReportAsync(CancellationToken cancellationToken);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReportInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await ReportAsync(stoppingToken);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    Log.ReportFailed(logger, GetType().Name, exception.GetType().Name, exception.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(40, LogLevel.Debug, "{Reporter}: status report not delivered: {Exception}: {Message}")]
        public static partial void ReportFailed(ILogger logger, string reporter, string exception, string message);
    }
}
