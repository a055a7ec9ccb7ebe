using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>Loads the seed file before the silo takes requests.</summary>
internal sealed class SiteSeedService(ISiteStore store, IOptions<SiteOptions> options) : IHostedService
{
    // A database is the site's to fill; the seed file is for the in-memory site only.
    public Task StartAsync(CancellationToken cancellationToken) =>
        !SiteStores.IsPostgres(options.Value.Store) && options.Value.ResolveSeedFile() is { } path
            ? SiteSeedLoader.LoadAsync(path, store, cancellationToken)
            : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
