using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Health;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.Grains.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>Everything a silo needs to run the tracker's grains.</summary>
public static class TrackerSiloBuilderExtensions
{
    /// <summary>How long an idle swarm or cached user stays in memory at least: through a database outage of that length, they keep answering.</summary>
    public static readonly TimeSpan ActiveAtLeast = TimeSpan.FromMinutes(65);

    /// <summary>
    /// How long a swarm stays in memory after its last announce or scrape: past its peers' timeout, so it prunes them
    /// on time, and at least <see cref="ActiveAtLeast"/>. Orleans' collection age for torrent grains, and the age at
    /// which an empty swarm leaves by itself (the sweeper's calls would keep it in memory for ever otherwise).
    /// </summary>
    internal static TimeSpan SwarmLifetime(TrackerOptions tracker)
    {
        var pastPeerTimeout = tracker.PeerTimeout + TimeSpan.FromMinutes(5);
        return pastPeerTimeout > ActiveAtLeast ? pastPeerTimeout : ActiveAtLeast;
    }

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
            .Validate(o => o.FlushInterval > TimeSpan.Zero && o.FlushInterval <= TimeSpan.FromDays(1), "Stats:FlushInterval must be positive and up to 1.00:00:00.");
        services.AddTrackerSection<SiteOptions>(SiteOptions.Section)
            .Validate(o => o.ResolveSeedFile() is not { } path || File.Exists(path), "Site:SeedFile does not exist.")
            .Validate(o => o.UnknownKeyLifetime > TimeSpan.Zero && o.UnknownKeyLifetime <= TimeSpan.FromDays(1), "Site:UnknownKeyLifetime must be positive and up to 1.00:00:00.")
            .Validate(o => o.RefreshInterval > TimeSpan.Zero && o.RefreshInterval <= TimeSpan.FromDays(7), "Site:RefreshInterval must be positive and up to 7.00:00:00.")
            .Validate(o => SiteStores.IsPostgres(o.Store) || o.Store.Equals(SiteStores.Memory, StringComparison.OrdinalIgnoreCase), "Site:Store must be Memory or Postgres.")
            .Validate<IOptions<DatabaseOptions>>((o, database) => !SiteStores.IsPostgres(o.Store) || database.Value.ConnectionString.Length > 0, "Site:Store Postgres needs Database:ConnectionString.");
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SiteOptions>, SeedFileValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddTrackerSection<DatabaseOptions>(DatabaseOptions.Section);
        services.AddSiteDatabase();
        services.TryAddSingleton<ISiteStore>(sp => SiteStores.IsPostgres(sp.GetRequiredService<IOptions<SiteOptions>>().Value.Store)
            ? ActivatorUtilities.CreateInstance<PostgresSiteStore>(sp)
            : ActivatorUtilities.CreateInstance<InMemorySiteStore>(sp));
        services.AddHostedService<SiteSeedService>();
        services.AddSingleton<ClientAllowList>();
        services.AddSingleton<LocalActivations>();
        services.AddSingleton<FirstReadGate>();
        services.AddSingleton<TorrentReadFailureLog>();
        services.AddSingleton<UserDirectory>();
        services.AddHostedService(sp => sp.GetRequiredService<UserDirectory>());
        services.AddHostedService<ClientAllowListLoader>();
        if (SiteStores.IsPostgres(configuration[$"{SiteOptions.Section}:{nameof(SiteOptions.Store)}"] ?? ""))
        {
            services.AddHostedService<SiteChangeListener>();
        }

        services.AddSiloReadiness(siteInDatabase: SiteStores.IsPostgres(configuration[$"{SiteOptions.Section}:{nameof(SiteOptions.Store)}"] ?? ""));
        services.AddSingleton<SiloMetrics>();
        services.AddSingleton<SwarmFlushWriter>();
        services.AddSingleton<SwarmSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<SwarmSweeper>());
        services.AddSingleton<OrphanedSwarmSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<OrphanedSwarmSweeper>());

        // Grains stay in memory well past their last call: a swarm outlives its peers' timeout, so it prunes them on
        // time; and an activation reads the site's database, so while that is down only grains already in memory
        // answer. Keeping swarms (and users, in UserDirectory) for over an hour keeps everyone active in the last hour served.
        services.AddOptions<GrainCollectionOptions>().Configure<IOptions<TrackerOptions>>((collection, tracker) =>
            collection.ClassSpecificCollectionAge[typeof(TorrentGrain).FullName!] = SwarmLifetime(tracker.Value));
        return silo;
    }
}
