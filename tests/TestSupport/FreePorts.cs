using System.Net;
using System.Net.Sockets;

namespace Chihaya.Orleans.TestSupport;

/// <summary>Loopback ports nobody listens on, so test hosts run side by side.</summary>
public static class FreePorts
{
    public static int Next() => Next(IPAddress.Loopback);

    /// <summary>A port free on <paramref name="address"/>, for a process that binds one loopback address of its own.</summary>
    public static int Next(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
