using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>
/// The SHA-256 digest of a passkey (<see cref="Passkey.ToUserKey"/>): how the tracker names a user everywhere a
/// passkey would otherwise travel (grain calls, caches, change notices), so the passkey itself goes no further than
/// the gateway that received it. Thirty-two raw bytes held as four fields: a value that compares, hashes and
/// serializes without allocation.
/// </summary>
[GenerateSerializer, Immutable, Alias("Chihaya.UserKey")]
[StructLayout(LayoutKind.Sequential)]
public readonly struct UserKey : IEquatable<UserKey>, IFixedBytes<UserKey>
{
    /// <summary>The number of bytes.</summary>
    public const int Length = 32;

    static int IFixedBytes<UserKey>.ByteLength => Length;

    [Id(0)] private readonly ulong _first;
    [Id(1)] private readonly ulong _second;
    [Id(2)] private readonly ulong _third;
    [Id(3)] private readonly ulong _fourth;

    private UserKey(ulong first, ulong second, ulong third, ulong fourth)
    {
        _first = first;
        _second = second;
        _third = third;
        _fourth = fourth;
    }

    /// <summary>Reads exactly 32 bytes; any other length is a programming error.</summary>
    public static UserKey Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} bytes, got {bytes.Length}.", nameof(bytes));
        }

        return new UserKey(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    /// <summary>Writes the 32 bytes into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _first);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _second);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _third);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _fourth);
    }

    /// <summary>A new array with the 32 bytes, for the database's <c>bytea</c>.</summary>
    public byte[] ToArray() => FixedBytes.ToArray(this);

    /// <summary>Lower-case hex, 64 characters: the form change notices use.</summary>
    public string ToHex() => FixedBytes.ToHex(this);

    /// <summary>Parses 64 hex characters of either case.</summary>
    public static bool TryParseHex(ReadOnlySpan<char> hex, out UserKey key) => FixedBytes.TryParseHex(hex, out key);

    public bool Equals(UserKey other) =>
        _first == other._first && _second == other._second && _third == other._third && _fourth == other._fourth;

    public override bool Equals(object? obj) => obj is UserKey other && Equals(other);

    // The bytes of a digest are already uniformly spread: one word is as good a hash as all four.
    public override int GetHashCode() => (int)_first ^ (int)(_first >> 32);

    public static bool operator ==(UserKey left, UserKey right) => left.Equals(right);

    public static bool operator !=(UserKey left, UserKey right) => !left.Equals(right);

    public override string ToString() => ToHex();
}
