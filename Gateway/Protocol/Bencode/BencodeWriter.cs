using System.Buffers.Text;
using System.Text;

namespace Chihaya.Orleans.Gateway.Protocol.Bencode;

/// <summary>
/// Writes bencode into a span sized by the caller. Keys are passed pre-encoded (<c>"8:complete"u8</c>),
/// so a reply is a run of block copies and integer formatting with nothing allocated.
/// </summary>
internal ref struct BencodeWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;

    public int Written { get; private set; }

    public void DictionaryStart() => Byte((byte)'d');

    public void ListStart() => Byte((byte)'l');

    public void End() => Byte((byte)'e');

    /// <summary>Copies bytes that are already bencode (a pre-encoded key).</summary>
    public void Raw(scoped ReadOnlySpan<byte> encoded)
    {
        encoded.CopyTo(_buffer[Written..]);
        Written += encoded.Length;
    }

    public void Integer(long value)
    {
        Byte((byte)'i');
        Utf8Formatter.TryFormat(value, _buffer[Written..], out var written);
        Written += written;
        Byte((byte)'e');
    }

    /// <summary>A byte string: length, colon, bytes.</summary>
    public void Bytes(scoped ReadOnlySpan<byte> value)
    {
        Utf8Formatter.TryFormat(value.Length, _buffer[Written..], out var written);
        Written += written;
        Byte((byte)':');
        Raw(value);
    }

    /// <summary>A text value as a UTF-8 byte string.</summary>
    public void Text(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        Utf8Formatter.TryFormat(length, _buffer[Written..], out var written);
        Written += written;
        Byte((byte)':');
        Written += Encoding.UTF8.GetBytes(value, _buffer[Written..]);
    }

    /// <summary>The most bytes <see cref="Text"/> can write for <paramref name="value"/>.</summary>
    public static int MaxTextSize(string? value) => value is null ? 0 : 12 + Encoding.UTF8.GetMaxByteCount(value.Length);

    private void Byte(byte value) => _buffer[Written++] = value;
}
