using Chihaya.Orleans.Grains.Database;
using Npgsql;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// A new, migrated database on the real PostgreSQL server that <c>./test.sh</c> starts
/// (<c>CHIHAYA_TEST_POSTGRES</c>); dropped again on dispose. Each test class gets its own.
/// </summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    private readonly string _adminConnectionString;

    private PostgresTestDatabase(string adminConnectionString, string name, string connectionString, NpgsqlDataSource dataSource)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
        DataSource = dataSource;
    }

    public string Name { get; }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>With the password, for handing to the tracker's processes.</summary>
    public string ConnectionString { get; }

    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("CHIHAYA_TEST_POSTGRES")
        ?? throw new InvalidOperationException("CHIHAYA_TEST_POSTGRES is not set: run the tests with ./test.sh, which starts PostgreSQL and Redis.");

    /// <summary>
    /// Creates the database on <paramref name="serverConnectionString"/> (a superuser's connection to the server), or
    /// on the shared server of <c>CHIHAYA_TEST_POSTGRES</c>: a test that stops its server needs one of its own.
    /// <paramref name="migrateThrough"/> stops the schema at an earlier version, to store data as that version did.
    /// </summary>
    public static async Task<PostgresTestDatabase> CreateAsync(string? serverConnectionString = null, int migrateThrough = int.MaxValue)
    {
        var admin = serverConnectionString ?? ServerConnectionString;
        var name = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"create database {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        var dataSource = DatabaseRegistration.CreateDataSource(connectionString);
        await SchemaMigrator.MigrateAsync(dataSource, throughVersion: migrateThrough);
        return new PostgresTestDatabase(admin, name, connectionString, dataSource);
    }

    /// <summary>Runs SQL as the site would, e.g. to change a user behind the tracker's back.</summary>
    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop database if exists {Name} with (force)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
