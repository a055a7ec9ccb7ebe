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
        catch (ArgumentException)
        {
            // Not Npgsql's message: it names the keyword it did not know, and in "Password=ab;cd=ef" that "keyword" is
            // the end of the password.
            throw new StartupProblemException(
                "Database:ConnectionString cannot be read: a keyword Npgsql does not know or a value it cannot take (check the keywords' spelling; "
                + "a value holding ';' goes in single quotes, as in Password='a;b').");
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
