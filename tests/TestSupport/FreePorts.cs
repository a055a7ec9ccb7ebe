using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// Loopback ports nobody listens on, so test hosts run side by side. Taken below the kernel's ephemeral range: a port
/// the kernel hands out (port 0) can become the local port of an outgoing connection (a client's, another test's)
/// before the server that was meant to have it binds it. Nor from Orleans' TestingHost silo ports, which another test
/// assembly's cluster takes by what is listening at that moment, so a port handed to a process still starting could be
/// taken twice. Each is handed out once per test run.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 10_000;

    // Orleans.TestingHost's TestClusterPortAllocator: silo ports from 22300 up to 30000 (its gateway ports, 40000 to
    // 50000, are above the ephemeral range's start anyway).
    private const int TestClusterSiloPortsFrom = 22_300;
    private const int TestClusterSiloPortsTo = 30_000;
    private static readonly ConcurrentDictionary<int, byte> HandedOut = new();
    private static readonly int EphemeralLow = ReadEphemeralLow();

    public static int Next() => Next(IPAddress.Loopback);

    /// <summary>A port free on <paramref name="address"/>, for a process that binds one loopback address of its own.</summary>
    public static int Next(IPAddress address)
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(Lowest, EphemeralLow);
            if (port is >= TestClusterSiloPortsFrom and < TestClusterSiloPortsTo || !HandedOut.TryAdd(port, 0))
            {
                continue;
            }

            try
            {
                using var listener = new TcpListener(address, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use: try another.
            }
        }

        throw new InvalidOperationException($"No free port between {Lowest} and {EphemeralLow} on {address}.");
    }

    private static int ReadEphemeralLow()
    {
        const string Range = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(Range) && int.TryParse(File.ReadAllText(Range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], out var low) && low > Lowest + 1000
            ? low
            : 32_768;
    }
}
