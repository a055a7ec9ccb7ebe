using Microsoft.Extensions.Hosting;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>Loads the client allowlist before the silo serves announces.</summary>
internal sealed class ClientAllowListLoader(ClientAllowList clients) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => clients.ReloadAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
