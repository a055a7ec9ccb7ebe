using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Chihaya.Orleans.TestSupport;

/// <summary>Reads the parts of decoded tracker replies that tests look at.</summary>
public static class Replies
{
    public static string? FailureReason(Dictionary<string, object> reply) =>
        reply.TryGetValue("failure reason", out var reason) ? Encoding.UTF8.GetString((byte[])reason) : null;

    public static long Integer(Dictionary<string, object> reply, string key) => (long)reply[key];

    /// <summary>The compact peers of a reply (<c>peers</c> and <c>peers6</c>) as endpoints.</summary>
    public static List<IPEndPoint> CompactPeers(Dictionary<string, object> reply)
    {
        var peers = new List<IPEndPoint>();
        if (reply.TryGetValue("peers", out var v4))
        {
            var bytes = (byte[])v4;
            for (var i = 0; i < bytes.Length; i += 6)
            {
                peers.Add(new IPEndPoint(new IPAddress(bytes.AsSpan(i, 4)), BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(i + 4))));
            }
        }

        if (reply.TryGetValue("peers6", out var v6))
        {
            var bytes = (byte[])v6;
            for (var i = 0; i < bytes.Length; i += 18)
            {
                peers.Add(new IPEndPoint(new IPAddress(bytes.AsSpan(i, 16)), BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(i + 16))));
            }
        }

        return peers;
    }
}
