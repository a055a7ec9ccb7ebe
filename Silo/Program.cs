using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.Hosting;

return await StartupProblems.RunAsync("chihaya silo", async () =>
{
    // appsettings.json lives beside the program, wherever it is started from.
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

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
    var host = builder.Build();
    StartupProblems.CheckBeforeStart(host.Services, StartupProblems.SiloListeners(cluster));
    ShutdownDeadline.Arm(host, "chihaya silo");
    await host.RunAsync();
});
