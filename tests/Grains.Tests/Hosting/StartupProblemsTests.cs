using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chihaya.Orleans.Grains.Tests.Hosting;

/// <summary>
/// The exit status a supervisor sees when a program stops for something other than a setting: systemd's units retry
/// every status but 2, and take 0 for a clean stop they must not retry.
/// </summary>
public sealed class StartupProblemsTests
{
    [Fact]
    public async Task BackgroundServiceThatFailsWhileRunning_StopsTheProgramWithStatus1_NotAsACleanStop()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddHostedService<FailingService>();
        using var host = builder.Build();

        var exitCode = await StartupProblems.RunAsync("test", () => StartupProblems.RunHostAsync(host));

        Assert.Equal(StartupProblems.FailedExitCode, exitCode);
    }

    [Fact]
    public async Task StopAskedForBeforeTheStartFinished_IsStatus1_NotAnAbort()
    {
        var exitCode = await StartupProblems.RunAsync("test", () => throw new TaskCanceledException("the stop came while waiting for the silos"));

        Assert.Equal(StartupProblems.FailedExitCode, exitCode);
    }

    private sealed class FailingService : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            throw new InvalidOperationException("the service's work failed");
        }
    }
}
