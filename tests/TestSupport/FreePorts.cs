using System.Net;
using System.Net.Sockets;

namespace Chihaya.Orleans.TestSupport;

/// <summary>Loopback ports nobody listens on, so test hosts run side by side.</summary>
public static class FreePorts
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
