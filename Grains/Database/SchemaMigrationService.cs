using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Chihaya.Orleans.Grains.Database;

/// <summary>Brings the schema up to date before the silo starts (registered first among hosted services).</summary>
internal sealed partial class SchemaMigrationService(NpgsqlDataSource dataSource, ILogger<SchemaMigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var applied = await SchemaMigrator.MigrateAsync(dataSource, cancellationToken);
        Log.Migrated(logger, applied.Count, string.Join(", ", applied));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Database schema up to date; applied {Count} migrations now ({Versions})")]
        public static partial void Migrated(ILogger logger, int count, string versions);
    }
}
