using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>
/// A silo's cluster ports take Orleans calls from whoever connects (any grain, the admin grain too, with no token), so
/// a silo listens on the address it advertises alone: cluster.sh's silos, advertising loopback, are unreachable from
/// other hosts.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class SiloPortsTests
{
    [Fact]
    public async Task SiloAdvertisingLoopback_ListensOnLoopbackAlone_NotOnTheHostsOtherAddresses()
    {
        // This machine's other addresses: 127.0.0.2 (all of 127/8 is this host's, and a silo listening on any address
        // answers there too), and those of its network interfaces, if it has any.
        var others = NetworkInterface.GetAllNetworkInterfaces()
            .Where(nic => nic.OperationalStatus == OperationalStatus.Up && nic.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses)
            .Select(unicast => unicast.Address)
            .Where(address => address.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(address))
            .Prepend(IPAddress.Parse("127.0.0.2"))
            .ToList();
        await using var cluster = await ProcessCluster.StartAsync(silos: 1);
        var (siloPort, gatewayPort) = cluster.SiloClusterPorts[0];

        Assert.True(await AcceptsAsync(IPAddress.Loopback, siloPort) && await AcceptsAsync(IPAddress.Loopback, gatewayPort), cluster.Logs);
        foreach (var address in others)
        {
            Assert.False(await AcceptsAsync(address, siloPort), $"the silo port answers on {address}");
            Assert.False(await AcceptsAsync(address, gatewayPort), $"the gateway port answers on {address}");
        }
    }

    private static async Task<bool> AcceptsAsync(IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port)).WaitAsync(TimeSpan.FromSeconds(10));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
