using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Health;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Metrics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;

return await StartupProblems.RunAsync("chihaya silo", async () =>
{
    // A web host for the silo's own HTTP port (Urls, default 8080): /healthz and /readyz for Kubernetes and load balancers.
    var builder = TrackerHostBuilder.Create(args);

    if (args is ["migrate", ..])
    {
        // For a deploy job: bring the database schema up to date, then exit.
        var connectionString = builder.Configuration[$"{DatabaseOptions.Section}:{nameof(DatabaseOptions.ConnectionString)}"];
        if (string.IsNullOrEmpty(connectionString))
        {
            throw new StartupProblemException("migrate: set Database:ConnectionString (e.g. Database__ConnectionString=...).");
        }

        await using var dataSource = DatabaseRegistration.CreateDataSource(connectionString);
        var applied = await SchemaMigrator.MigrateAsync(dataSource);
        Console.WriteLine($"Schema up to date: {SchemaMigrator.Migrations.Count} migrations known, {applied.Count} applied now ({string.Join(", ", applied)}).");
        return;
    }

    var cluster = TrackerSiloHosting.ReadClusterOptions(builder.Configuration);
    builder.UseOrleans(silo => silo.UseTrackerSilo(cluster, builder.Configuration));
    builder.Services.AddTrackerMetrics();
    var app = builder.Build();
    app.MapHealthEndpoints();
    app.MapMetricsEndpoint();
    StartupProblems.CheckBeforeStart(
        app.Services, StartupProblems.SiloListeners(cluster).Concat(StartupProblems.HttpListeners(app.Configuration[WebHostDefaults.ServerUrlsKey])));
    await StartupProblems.EnsureReachableAsync(app.Services, app.Configuration);
    ShutdownDeadline.Arm(app, "chihaya silo");
    await StartupProblems.RunHostAsync(app);
});
