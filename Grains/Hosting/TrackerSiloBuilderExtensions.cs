using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>Everything a silo needs to run the tracker's grains.</summary>
public static class TrackerSiloBuilderExtensions
{
    /// <summary>Registers the tracker's grains, their options and the site store.</summary>
    public static ISiloBuilder AddTrackerGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        if (SiteStores.IsPostgres(configuration[$"{SiteOptions.Section}:{nameof(SiteOptions.Store)}"] ?? "")
            && (configuration.GetValue<bool?>($"{DatabaseOptions.Section}:{nameof(DatabaseOptions.MigrateOnStart)}") ?? true))
        {
            // First among hosted services: the schema must be current before the store or Orleans touch it.
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService, SchemaMigrationService>());
        }

        services.AddTrackerOptions();
        services.AddTrackerSection<StatsOptions>(StatsOptions.Section)
            .Validate(o => o.FlushInterval > TimeSpan.Zero, "Stats:FlushInterval must be positive.");
        services.AddTrackerSection<SiteOptions>(SiteOptions.Section)
            .Validate(o => o.ResolveSeedFile() is not { } path || File.Exists(path), "Site:SeedFile does not exist.")
            .Validate(o => o.UnknownKeyLifetime > TimeSpan.Zero, "Site:UnknownKeyLifetime must be positive.")
            .Validate(o => o.RefreshInterval > TimeSpan.Zero, "Site:RefreshInterval must be positive.")
            .Validate(o => SiteStores.IsPostgres(o.Store) || o.Store.Equals(SiteStores.Memory, StringComparison.OrdinalIgnoreCase), "Site:Store must be Memory or Postgres.")
            .Validate<IOptions<DatabaseOptions>>((o, database) => !SiteStores.IsPostgres(o.Store) || database.Value.ConnectionString.Length > 0, "Site:Store Postgres needs Database:ConnectionString.");
        services.TryAddSingleton(TimeProvider.System);
        services.AddTrackerSection<DatabaseOptions>(DatabaseOptions.Section);
        services.AddSiteDatabase();
        services.TryAddSingleton<ISiteStore>(sp => SiteStores.IsPostgres(sp.GetRequiredService<IOptions<SiteOptions>>().Value.Store)
            ? ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp)
            : ActivatorUtilities.CreateInstance<InMemorySiteStore>(sp));
        services.AddHostedService<SiteSeedService>();
        services.AddSingleton<ClientAllowList>();
        services.AddSingleton<LocalActivations>();
        services.AddHostedService<ClientAllowListLoader>();
        if (SiteStores.IsPostgres(configuration[$"{SiteOptions.Section}:{nameof(SiteOptions.Store)}"] ?? ""))
        {
            services.AddHostedService<SiteChangeListener>();

            // Swarms and user sums in the site's database, as compact Orleans binary (not type-named JSON).
            silo.AddAdoNetGrainStorage(TrackerStorage.Grains, options => options.Invariant = "Npgsql");
            services.AddOptions<AdoNetGrainStorageOptions>(TrackerStorage.Grains).Configure<NpgsqlDataSource, Serializer>((options, dataSource, serializer) =>
            {
                options.DataSource = dataSource;
                options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            });
            services.AddSingleton(new GrainPersistence(IsDurable: true));
        }
        else
        {
            services.AddKeyedSingleton<IGrainStorage, VolatileGrainStorage>(TrackerStorage.Grains);
            services.AddSingleton(new GrainPersistence(IsDurable: false));
        }

        // A swarm kept only in memory must outlive its peers' timeout, or an idle-collected grain
        // would forget peers that are still seeding between two announces.
        services.AddOptions<GrainCollectionOptions>().Configure<IOptions<TrackerOptions>>((collection, tracker) =>
            collection.ClassSpecificCollectionAge[typeof(TorrentGrain).FullName!] = tracker.Value.PeerTimeout + TimeSpan.FromMinutes(5));
        return silo;
    }
}
