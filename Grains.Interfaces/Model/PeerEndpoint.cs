using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;

namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>
/// A peer's address and port. IPv4 is held IPv4-mapped (::ffff:a.b.c.d) so both families share one
/// 18-byte value type (packed, so a swarm's peer entries carry no padding for it).
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.PeerEndpoint")]
[StructLayout(LayoutKind.Sequential, Pack = 2)]
public readonly record struct PeerEndpoint(
    [property: Id(0)] ulong AddressHigh,
    [property: Id(1)] ulong AddressLow,
    [property: Id(2)] ushort Port)
{
    private const ulong MappedPrefixLow = 0x0000_FFFF_0000_0000;

    /// <summary>True when the address is IPv4 (stored IPv4-mapped).</summary>
    public bool IsIPv4 => AddressHigh == 0 && (AddressLow & 0xFFFF_FFFF_0000_0000) == MappedPrefixLow;

    /// <summary>Builds an endpoint from an address of either family; IPv4-mapped IPv6 counts as IPv4.</summary>
    public static PeerEndpoint From(IPAddress address, int port)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            bytes.Clear();
            bytes[10] = 0xFF;
            bytes[11] = 0xFF;
            address.TryWriteBytes(bytes[12..], out _);
        }
        else
        {
            address.TryWriteBytes(bytes, out _);
        }

        return new PeerEndpoint(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            checked((ushort)port));
    }

    /// <summary>Writes the BEP 23 compact form: 4 address bytes and the port, big-endian.</summary>
    public void WriteCompactIPv4(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)AddressLow);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], Port);
    }

    /// <summary>Writes the BEP 7 compact form: 16 address bytes and the port, big-endian.</summary>
    public void WriteCompactIPv6(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, AddressHigh);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], AddressLow);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], Port);
    }

    /// <summary>The address as a framework object, for cold paths (logging, non-compact replies).</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, AddressHigh);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], AddressLow);
        return IsIPv4 ? new IPAddress(bytes[12..]) : new IPAddress(bytes);
    }

    public override string ToString() => $"{ToIPAddress()}:{Port}";
}
