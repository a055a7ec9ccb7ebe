using System.Buffers.Binary;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// A swarm's peers as one byte block for grain storage: 71 bytes a peer, no type names, no per-peer objects.
/// Layout (big-endian): a version byte, the peer count, then per peer: flags (seeder, snatched), peer id (20),
/// address (16), port (2), uploaded, downloaded, user id, last seen (8 each).
/// </summary>
internal static class SwarmSnapshot
{
    public const int PeerSize = 71;
    private const byte Version = 1;
    private const byte SeederFlag = 1;
    private const byte SnatchedFlag = 2;

    public static byte[] Write(IReadOnlyCollection<(PeerEntry Peer, bool Seeder)> peers)
    {
        var bytes = new byte[5 + (peers.Count * PeerSize)];
        bytes[0] = Version;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), peers.Count);
        var offset = 5;
        foreach (var (peer, seeder) in peers)
        {
            var span = bytes.AsSpan(offset, PeerSize);
            span[0] = (byte)((seeder ? SeederFlag : 0) | (peer.HasSnatched ? SnatchedFlag : 0));
            peer.PeerId.Value.CopyTo(span[1..]);
            BinaryPrimitives.WriteUInt64BigEndian(span[21..], peer.Endpoint.AddressHigh);
            BinaryPrimitives.WriteUInt64BigEndian(span[29..], peer.Endpoint.AddressLow);
            BinaryPrimitives.WriteUInt16BigEndian(span[37..], peer.Endpoint.Port);
            BinaryPrimitives.WriteInt64BigEndian(span[39..], peer.Uploaded);
            BinaryPrimitives.WriteInt64BigEndian(span[47..], peer.Downloaded);
            BinaryPrimitives.WriteInt64BigEndian(span[55..], peer.UserId);
            BinaryPrimitives.WriteInt64BigEndian(span[63..], peer.LastSeen);
            offset += PeerSize;
        }

        return bytes;
    }

    public static IEnumerable<(PeerEntry Peer, bool Seeder)> Read(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            yield break;
        }

        if (bytes[0] != Version || bytes.Length < 5)
        {
            throw new InvalidDataException($"Unknown swarm snapshot version {bytes[0]}.");
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1));
        if (bytes.Length != 5 + (count * PeerSize))
        {
            throw new InvalidDataException("Swarm snapshot is truncated.");
        }

        for (var i = 0; i < count; i++)
        {
            yield return ReadPeer(bytes.AsSpan(5 + (i * PeerSize), PeerSize));
        }
    }

    private static (PeerEntry, bool) ReadPeer(ReadOnlySpan<byte> span)
    {
        var entry = new PeerEntry
        {
            PeerId = PeerId.Read(span.Slice(1, Bytes20.Length)),
            Endpoint = new PeerEndpoint(
                BinaryPrimitives.ReadUInt64BigEndian(span[21..]),
                BinaryPrimitives.ReadUInt64BigEndian(span[29..]),
                BinaryPrimitives.ReadUInt16BigEndian(span[37..])),
            Uploaded = BinaryPrimitives.ReadInt64BigEndian(span[39..]),
            Downloaded = BinaryPrimitives.ReadInt64BigEndian(span[47..]),
            UserId = BinaryPrimitives.ReadInt64BigEndian(span[55..]),
            LastSeen = BinaryPrimitives.ReadInt64BigEndian(span[63..]),
            HasSnatched = (span[0] & SnatchedFlag) != 0,
        };
        return (entry, (span[0] & SeederFlag) != 0);
    }
}
