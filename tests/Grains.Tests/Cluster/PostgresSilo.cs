using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// A test silo as production runs one on the site's PostgreSQL (the site store, peers and statistics), with
/// the store a test chooses and flushes only when the test asks, so each write lands exactly where intended.
/// </summary>
internal static class PostgresSilo
{
    public static void Configure(ISiloBuilder siloBuilder, string connectionString, Func<IServiceProvider, ISiteStore> store)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Site:Store"] = "Postgres",
            ["Database:ConnectionString"] = connectionString,
        }).Build();
        siloBuilder.Services.AddSingleton<IConfiguration>(configuration);
        siloBuilder.Services.Configure<SiteOptions>(options => options.Store = SiteStores.Postgres);
        siloBuilder.Services.Configure<Database.DatabaseOptions>(options => options.ConnectionString = connectionString);
        siloBuilder.Services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromHours(1));
        siloBuilder.Services.AddSingleton(store);
        siloBuilder.AddTrackerGrains(configuration);
    }
}
