using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>Loads the seed file before the silo takes requests.</summary>
internal sealed class SiteSeedService(ISiteStore store, IOptions<SiteOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        options.Value.ResolveSeedFile() is { } path
            ? SiteSeedLoader.LoadAsync(path, store, cancellationToken)
            : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
