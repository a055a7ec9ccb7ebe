using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.TestSupport;
using Npgsql;

namespace Chihaya.Orleans.Grains.Tests.Hosting;

/// <summary>
/// A silo of a new version migrates the schema while the old version's silos still run and a site's job holds a table
/// the migration alters. The migration must give way rather than queue every statement on that table behind it.
/// </summary>
public sealed class SchemaMigrationLockTests
{
    [Fact]
    public async Task Migration_OfATableALongTransactionHolds_LetsTheTablesUsersThrough_AndIsAppliedOnceTheTableIsFree()
    {
        // Migration 010 alters tracker_swarms, which every claim and flush of a running silo reads and writes.
        await using var database = await PostgresTestDatabase.CreateAsync(migrateThrough: 9);
        await using var job = await database.DataSource.OpenConnectionAsync();
        await using var holding = await job.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("select count(*) from tracker_swarms", job, holding))
        {
            // The job's transaction keeps the table's read lock until it ends.
            await read.ExecuteScalarAsync();
        }

        var migrating = SchemaMigrator.MigrateAsync(database.DataSource, tableLockWait: TimeSpan.FromMilliseconds(300));
        await Eventually.TrueAsync(
            async () => await database.ScalarAsync<long>("select count(*) from pg_locks where not granted and database = (select oid from pg_database where datname = current_database()) and relation = 'tracker_swarms'::regclass") > 0,
            "the migration waited for the table",
            pollDelay: TimeSpan.FromMilliseconds(5));
        // A running silo's claim reads the table meanwhile. Queued behind a waiting ALTER it would wait as long as the job.
        await using var silo = await database.DataSource.OpenConnectionAsync();
        await using var claim = new NpgsqlCommand("select count(*) from tracker_swarms", silo) { CommandTimeout = 10 };
        var claimAnswered = await Record.ExceptionAsync(claim.ExecuteScalarAsync);
        await holding.RollbackAsync();
        var applied = await migrating.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Null(claimAnswered);
        Assert.Contains(10, applied);
        Assert.Equal(1L, await database.ScalarAsync<long>("select count(*) from information_schema.columns where table_name = 'tracker_swarms' and column_name = 'info_hash'"));
    }
}
