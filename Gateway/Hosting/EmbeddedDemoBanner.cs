using Chihaya.Orleans.Grains.Interfaces.Documents;
using Chihaya.Orleans.Grains.Site;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Hosting;

/// <summary>
/// Prints the demo user's announce URL once the embedded tracker listens. Written to the console on
/// purpose, not to the log: logs never carry passkeys, but a person starting the demo needs this one.
/// </summary>
internal sealed class EmbeddedDemoBanner(IServer server, IHostApplicationLifetime lifetime, IOptions<SiteOptions> site) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Print);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Print()
    {
        if (site.Value.ResolveSeedFile() is not { } path)
        {
            return;
        }

        var user = SiteSeed.Read(path).Users.FirstOrDefault();
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (user?.Passkey is null || address is null)
        {
            return;
        }

        var url = new UriBuilder(address);
        if (url.Host is "0.0.0.0" or "[::]" or "+" or "*")
        {
            url.Host = "127.0.0.1";
        }

        url.Path = $"/{user.Passkey}/announce";
        Console.WriteLine($"Chihaya.Orleans embedded tracker is running. Demo user {user.Id}'s announce URL: {url.Uri}");
    }
}
