using System.Diagnostics;
using Npgsql;

namespace Chihaya.Orleans.Grains.Database;

/// <summary>
/// Applies <c>deploy/sql/NNN_name.sql</c> in order, each once, each in its own transaction, recording the
/// version in <c>schema_migrations</c>. Idempotent and safe to run from every silo at once: an advisory
/// lock makes concurrent runs wait for each other.
/// </summary>
public static class SchemaMigrator
{
    // An arbitrary constant naming our lock; other applications' advisory locks use other numbers.
    private const long LockKey = 0x4368_6968_6179_61;

    /// <summary>How long a start waits for another's migration lock: above <see cref="GiveWayFor"/>, which the holder may spend.</summary>
    public static readonly TimeSpan LockWait = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long one run keeps giving way to a table's users, over all its migrations; past it the run fails (and a
    /// start is retried). Half the Kubernetes migration Job's 10-minute deadline, leaving the rest to the migrations.
    /// </summary>
    public static readonly TimeSpan GiveWayFor = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long one try of a migration waits for a table lock (PostgreSQL's <c>lock_timeout</c>) before it gives way
    /// and tries again after a pause. An ALTER waiting for a table that a long transaction holds (a site's job, a
    /// report) makes every statement on that table queue behind it: the running silos' flushes and claims would stall
    /// for as long as that transaction lasts. Giving way keeps them going between tries; a try holds them up to this
    /// long, below a swarm's 1.5 s wait for its first read and the gateway's 5 s response timeout.
    /// </summary>
    public static readonly TimeSpan TableLockWait = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan LongestRetryPause = TimeSpan.FromSeconds(30);

    /// <summary>The migrations shipped in this assembly, by version.</summary>
    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = LoadMigrations();

    /// <summary>
    /// Applies pending migrations up to <paramref name="throughVersion"/> (all of them by default); returns the versions
    /// applied by this call. Tests stop at an earlier version to hold this version's code to data an earlier one stored.
    /// </summary>
    /// <param name="dataSource">The site's database.</param>
    /// <param name="cancellationToken">Ends the migration (a stop).</param>
    /// <param name="throughVersion">The last version to apply.</param>
    /// <param name="tableLockWait"><see cref="TableLockWait"/> unless given (tests shorten it).</param>
    public static async Task<IReadOnlyList<int>> MigrateAsync(
        NpgsqlDataSource dataSource, CancellationToken cancellationToken = default, int throughVersion = int.MaxValue, TimeSpan? tableLockWait = null)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Waits for another silo's migration, but not for ever: a lock held by a session that is gone but not yet
        // closed (a half-open connection) would hang every start without a word. After this the start fails and is
        // retried (and a migration longer than this makes the waiting silos retry).
        await Execute(connection, null, "select pg_advisory_lock(" + LockKey + ")", cancellationToken, LockWait);
        try
        {
            await Execute(connection, null, """
                create table if not exists schema_migrations (
                    version     integer primary key,
                    name        text not null,
                    applied_at  timestamptz not null default now())
                """, cancellationToken);
            var applied = new HashSet<int>();
            await using (var read = new NpgsqlCommand("select version from schema_migrations", connection))
            await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    applied.Add(reader.GetInt32(0));
                }
            }

            var done = new List<int>();
            var lockTimeout = Math.Max(1, (int)(tableLockWait ?? TableLockWait).TotalMilliseconds);
            var started = Stopwatch.GetTimestamp();
            foreach (var (version, name, sql) in Migrations.Where(m => !applied.Contains(m.Version) && m.Version <= throughVersion))
            {
                for (var pause = TimeSpan.FromSeconds(1); ; pause = pause * 2 < LongestRetryPause ? pause * 2 : LongestRetryPause)
                {
                    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                    try
                    {
                        await Execute(connection, transaction, $"set local lock_timeout = {lockTimeout}", cancellationToken);
                        await Execute(connection, transaction, sql, cancellationToken);
                        await using var record = new NpgsqlCommand("insert into schema_migrations (version, name) values ($1, $2)", connection, transaction);
                        record.Parameters.Add(new NpgsqlParameter { Value = version });
                        record.Parameters.Add(new NpgsqlParameter { Value = name });
                        await record.ExecuteNonQueryAsync(cancellationToken);
                        await transaction.CommitAsync(cancellationToken);
                        break;
                    }
                    catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.LockNotAvailable
                        && Stopwatch.GetElapsedTime(started) + pause < GiveWayFor)
                    {
                        await transaction.RollbackAsync(cancellationToken);
                        await Task.Delay(pause, cancellationToken);
                    }
                }

                done.Add(version);
            }

            return done;
        }
        finally
        {
            // The lock ends with the session anyway; a failed unlock must not hide the migration's own error.
            try
            {
                await Execute(connection, null, "select pg_advisory_unlock(" + LockKey + ")", CancellationToken.None);
            }
            catch (NpgsqlException)
            {
            }
        }
    }

    /// <summary>
    /// Throws <see cref="SchemaBehindException"/> when the database has not had every migration this build ships (a
    /// deploy whose migration job has not run yet, or did not run): this build's statements would fail on it.
    /// </summary>
    public static async Task EnsureCurrentAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        var needed = Migrations.Count == 0 ? 0 : Migrations.Max(migration => migration.Version);
        await using var command = dataSource.CreateCommand(
            "select case when to_regclass('schema_migrations') is null then 0 else (select coalesce(max(version), 0) from schema_migrations) end");
        var current = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        if (current < needed)
        {
            throw new SchemaBehindException(current, needed);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        // No time limit by default (Npgsql's is 30 s): a migration runs as long as the site's tables make it; the
        // caller's token (a stop) still ends it.
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = (int)(timeout ?? TimeSpan.Zero).TotalSeconds };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static List<(int, string, string)> LoadMigrations()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        return [.. assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith("sql/", StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Select(name =>
            {
                var file = name["sql/".Length..^".sql".Length];
                var version = int.Parse(file[..file.IndexOf('_')], System.Globalization.CultureInfo.InvariantCulture);
                using var stream = assembly.GetManifestResourceStream(name)!;
                using var text = new StreamReader(stream);
                return (version, file, text.ReadToEnd());
            })
            .OrderBy(migration => migration.version)];
    }
}

/// <summary>The database's schema is older than this build needs: its migrations must run first.</summary>
public sealed class SchemaBehindException(int current, int needed)
    : Exception($"the database schema has version {current}, this build needs {needed}: run the migration first (Chihaya.Orleans.Silo.dll migrate, the deploy's migration job), or set Database:MigrateOnStart=true.");
