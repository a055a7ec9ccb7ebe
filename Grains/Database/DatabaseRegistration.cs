using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Chihaya.Orleans.Grains.Database;

/// <summary>The site database's connection pool, shared by the site store, the swarms' flushes and the change listener.</summary>
public static class DatabaseRegistration
{
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        NpgsqlDataSourceBuilder builder;
        try
        {
            builder = new NpgsqlDataSourceBuilder(connectionString);
        }
        catch (ArgumentException invalid)
        {
            // Npgsql's message names the keyword, never the value (which may be the password).
            throw new StartupProblemException($"Database:ConnectionString cannot be read: {invalid.Message}");
        }

        // Every statement the tracker sends is one of a handful: prepare them once per connection.
        builder.ConnectionStringBuilder.MaxAutoPrepare = Math.Max(builder.ConnectionStringBuilder.MaxAutoPrepare, 32);
        builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        return builder.Build();
    }

    internal static IServiceCollection AddSiteDatabase(this IServiceCollection services)
    {
        services.AddSingleton(sp => CreateDataSource(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString));
        return services;
    }
}
