using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>
/// The production shape by configuration alone: a silo host (as <c>Silo/Program.cs</c> builds it) and a
/// gateway in <c>Cluster:Mode=Client</c>, talking over Orleans' TCP gateway port.
/// </summary>
public sealed class SplitProcessShapeTests
{
    [Fact]
    public async Task Gateway_InClientMode_ServesAnnouncesFromASeparateSilo()
    {
        var siloPort = FreePorts.Next();
        var gatewayPort = FreePorts.Next();
        var siloBuilder = Host.CreateApplicationBuilder();
        siloBuilder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:SiloPort"] = siloPort.ToString(),
            ["Cluster:GatewayPort"] = gatewayPort.ToString(),
            ["Stats:FlushInterval"] = "00:00:00.100",
        });
        siloBuilder.Logging.SetMinimumLevel(LogLevel.Warning);
        var cluster = TrackerSiloHosting.ReadClusterOptions(siloBuilder.Configuration);
        siloBuilder.UseOrleans(silo => silo.UseTrackerSilo(cluster, siloBuilder.Configuration));
        using var silo = siloBuilder.Build();
        await silo.StartAsync();

        await using (var gateway = await TrackerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Cluster:Mode"] = "Client",
            ["Cluster:GatewayPort"] = gatewayPort.ToString(),
        }))
        {
            var passkey = TrackerFixture.NewPasskey();
            await gateway.PutUserAsync(passkey, 1);
            var hash = UrlBytes.Random20();
            await gateway.PutTorrentAsync(hash, 1);
            var seeder = new Announcer(passkey, hash, UrlBytes.Random20(), 8001);
            await seeder.AnnounceAsync(gateway, 0, 0, 0, "started");
            var reply = await new Announcer(passkey, hash, UrlBytes.Random20(), 8002).AnnounceAsync(gateway, 0, 0, 10, "started");
            await seeder.AnnounceAsync(gateway, 1234, 0, 0);

            Assert.Equal("127.0.0.1:8001", Assert.Single(CompactPeers(reply)).ToString());
            var user = await gateway.WaitForAdminAsync($"/admin/users/{passkey}", d => d.GetProperty("stats").GetProperty("rawUploaded").GetInt64() == 1234);
            Assert.Equal(1234, user.GetProperty("stats").GetProperty("rawUploaded").GetInt64());
        }

        await silo.StopAsync();
    }
}
