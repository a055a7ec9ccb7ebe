using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>
/// Twenty raw bytes held as three fields, so info hashes and peer ids are values (no array per peer)
/// that compare, hash and serialize without allocation.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.Bytes20")]
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public readonly struct Bytes20 : IEquatable<Bytes20>, IFixedBytes<Bytes20>, IComparable<Bytes20>
{
    /// <summary>The number of bytes.</summary>
    public const int Length = 20;

    static int IFixedBytes<Bytes20>.ByteLength => Length;

    [Id(0)] private readonly ulong _head;
    [Id(1)] private readonly ulong _middle;
    [Id(2)] private readonly uint _tail;

    private Bytes20(ulong head, ulong middle, uint tail)
    {
        _head = head;
        _middle = middle;
        _tail = tail;
    }

    /// <summary>Reads exactly 20 bytes; any other length is a programming error.</summary>
    public static Bytes20 Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            ThrowWrongLength(bytes.Length);
        }

        return new Bytes20(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]));
    }

    /// <summary>Writes the 20 bytes into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _head);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _middle);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], _tail);
    }

    /// <summary>A new array with the 20 bytes, for tests and cold paths.</summary>
    public byte[] ToArray() => FixedBytes.ToArray(this);

    /// <summary>Lower-case hex, 40 characters.</summary>
    public string ToHex() => FixedBytes.ToHex(this);

    /// <summary>Parses 40 hex characters of either case.</summary>
    public static bool TryParseHex(ReadOnlySpan<char> hex, out Bytes20 value) => FixedBytes.TryParseHex(hex, out value);

    public bool Equals(Bytes20 other) => _head == other._head && _middle == other._middle && _tail == other._tail;

    public override bool Equals(object? obj) => obj is Bytes20 other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_head, _middle, _tail);

    public static bool operator ==(Bytes20 left, Bytes20 right) => left.Equals(right);

    public static bool operator !=(Bytes20 left, Bytes20 right) => !left.Equals(right);

    /// <summary>Orders by the raw bytes, as bencode orders dictionary keys.</summary>
    public int CompareTo(Bytes20 other)
    {
        var byHead = _head.CompareTo(other._head);
        if (byHead != 0)
        {
            return byHead;
        }

        var byMiddle = _middle.CompareTo(other._middle);
        return byMiddle != 0 ? byMiddle : _tail.CompareTo(other._tail);
    }

    public override string ToString() => ToHex();

    private static void ThrowWrongLength(int length) =>
        throw new ArgumentException($"Expected {Length} bytes, got {length}.", "bytes");
}
