using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>Everything a silo needs to run the tracker's grains.</summary>
public static class TrackerSiloBuilderExtensions
{
    /// <summary>Registers the tracker's grains, their options and the in-memory site store.</summary>
    public static ISiloBuilder AddTrackerGrains(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddTrackerSection<TrackerOptions>(TrackerOptions.Section);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TrackerOptions>, TrackerOptionsValidator>());
        services.AddTrackerSection<StatsOptions>(StatsOptions.Section)
            .Validate(o => o.FlushInterval > TimeSpan.Zero, "Stats:FlushInterval must be positive.");
        services.AddTrackerSection<SiteOptions>(SiteOptions.Section)
            .Validate(o => o.ResolveSeedFile() is not { } path || File.Exists(path), "Site:SeedFile does not exist.")
            .Validate(o => o.UnknownKeyLifetime > TimeSpan.Zero, "Site:UnknownKeyLifetime must be positive.");
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISiteStore, InMemorySiteStore>();
        services.AddHostedService<SiteSeedService>();

        // A swarm kept only in memory must outlive its peers' timeout, or an idle-collected grain
        // would forget peers that are still seeding between two announces.
        services.AddOptions<GrainCollectionOptions>().Configure<IOptions<TrackerOptions>>((collection, tracker) =>
            collection.ClassSpecificCollectionAge[typeof(TorrentGrain).FullName!] = tracker.Value.PeerTimeout + TimeSpan.FromMinutes(5));
        return silo;
    }
}
