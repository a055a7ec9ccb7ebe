using Chihaya.Orleans.Grains.Interfaces.Documents;
using Chihaya.Orleans.Grains.Site;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Hosting;

/// <summary>
/// Prints the demo user's announce URL once the embedded tracker listens. Written to the console on
/// purpose, not to the log: logs never carry passkeys, but a person starting the demo needs this one. Only the shipped
/// demo's (the README publishes its passkey): an operator's own seed file holds real passkeys, which standard output (a
/// journal, a container's log) must not carry.
/// </summary>
internal sealed class EmbeddedDemoBanner(IServer server, IHostApplicationLifetime lifetime, IOptions<SiteOptions> site) : IHostedService
{
    /// <summary>The shipped demo user's passkey, which the README publishes.</summary>
    internal const string PublishedDemoPasskey = "demo0000000000000000000000000001";

    private static readonly string ShippedDemoSeed = Path.GetFullPath("seed/demo.json", AppContext.BaseDirectory);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Print);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Print()
    {
        const string running = "Chihaya.Orleans embedded tracker is running.";
        if (DemoAnnounceUrl() is { } url)
        {
            Console.WriteLine($"{running} Demo user {url.UserId}'s announce URL: {url.Address}");
        }
        else
        {
            Console.WriteLine(running);
        }
    }

    private (long UserId, Uri Address)? DemoAnnounceUrl()
    {
        if (!site.Value.Store.Equals(SiteStores.Memory, StringComparison.OrdinalIgnoreCase)
            || site.Value.ResolveSeedFile() is not { } path || path != ShippedDemoSeed)
        {
            return null;
        }

        var user = SiteSeed.Read(path).Users.FirstOrDefault();
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (user is null || !IsPublishedDemoUser(user) || address is null)
        {
            return null;
        }

        var url = new UriBuilder(address);
        if (url.Host is "0.0.0.0" or "[::]" or "+" or "*")
        {
            url.Host = "127.0.0.1";
        }

        url.Path = $"/{user.Passkey}/announce";
        return (user.Id, url.Uri);
    }

    /// <summary>
    /// Only the published passkey is printed, even from the shipped seed file's path: an operator may have replaced that
    /// file with real users (edited in the publish folder, or mounted over it in the container).
    /// </summary>
    internal static bool IsPublishedDemoUser(UserDocument user) => user.Passkey == PublishedDemoPasskey;
}
