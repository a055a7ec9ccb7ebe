using Chihaya.Orleans.Gateway.Hosting;
using Chihaya.Orleans.Grains.Hosting;

return await StartupProblems.RunAsync("chihaya gateway", async () =>
{
    var builder = TrackerHostBuilder.Create(args);
    builder.AddTrackerGateway();

    var app = builder.Build();
    app.MapTracker();
    StartupProblems.CheckBeforeStart(app.Services, app.TrackerListeners());
    await StartupProblems.EnsureReachableAsync(app.Services, app.Configuration);
    ShutdownDeadline.Arm(app, "chihaya gateway");
    await StartupProblems.RunHostAsync(app);
});

/// <summary>The entry point, visible to tests that host the gateway.</summary>
public partial class Program;
