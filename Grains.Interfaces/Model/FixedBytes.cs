namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>A value of a fixed number of raw bytes (an info hash, a peer id, a passkey digest).</summary>
public interface IFixedBytes<TSelf>
    where TSelf : struct, IFixedBytes<TSelf>
{
    /// <summary>The number of bytes: at most 32, so copies fit on the stack.</summary>
    static abstract int ByteLength { get; }

    /// <summary>Reads exactly <see cref="ByteLength"/> bytes.</summary>
    static abstract TSelf Read(ReadOnlySpan<byte> bytes);

    /// <summary>Writes the bytes into <paramref name="destination"/>.</summary>
    void CopyTo(Span<byte> destination);
}

/// <summary>The forms every fixed-size value has besides its fields: an array, and lower-case hex.</summary>
public static class FixedBytes
{
    private const int MaxLength = 32;

    /// <summary>A new array with the bytes, for the database and cold paths.</summary>
    public static byte[] ToArray<T>(T value)
        where T : struct, IFixedBytes<T>
    {
        var bytes = new byte[T.ByteLength];
        value.CopyTo(bytes);
        return bytes;
    }

    /// <summary>Lower-case hex, two characters a byte.</summary>
    public static string ToHex<T>(T value)
        where T : struct, IFixedBytes<T>
    {
        Span<byte> bytes = stackalloc byte[MaxLength];
        value.CopyTo(bytes[..T.ByteLength]);
        return Convert.ToHexStringLower(bytes[..T.ByteLength]);
    }

    /// <summary>Parses exactly two hex characters a byte, of either case.</summary>
    public static bool TryParseHex<T>(ReadOnlySpan<char> hex, out T value)
        where T : struct, IFixedBytes<T>
    {
        Span<byte> bytes = stackalloc byte[MaxLength];
        var length = T.ByteLength;
        if (hex.Length != length * 2
            || Convert.FromHexString(hex, bytes[..length], out _, out var written) != System.Buffers.OperationStatus.Done
            || written != length)
        {
            value = default;
            return false;
        }

        value = T.Read(bytes[..length]);
        return true;
    }
}
