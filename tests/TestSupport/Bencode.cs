using System.Text;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// A strict bencode reader for assertions: byte strings stay bytes, dictionaries keep their raw keys
/// and it fails on unsorted keys or trailing data, so tests catch encoding mistakes too. Its writer
/// builds what tests hand to real clients, such as .torrent files.
/// </summary>
public static class Bencode
{
    /// <summary>
    /// Encodes integers, text (as UTF-8), byte strings and dictionaries with text keys. Keys are written in
    /// sorted order, so the same value always gives the same bytes (an info hash depends on that).
    /// </summary>
    public static byte[] Encode(object value)
    {
        using var output = new MemoryStream();
        Write(output, value);
        return output.ToArray();
    }

    public static object Decode(ReadOnlySpan<byte> data)
    {
        var position = 0;
        var value = Read(data, ref position);
        if (position != data.Length)
        {
            throw new FormatException($"Trailing data at {position}.");
        }

        return value;
    }

    /// <summary>Decodes a dictionary and returns it keyed by the keys as Latin-1 text.</summary>
    public static Dictionary<string, object> DecodeDictionary(ReadOnlySpan<byte> data) =>
        (Dictionary<string, object>)Decode(data);

    private static object Read(ReadOnlySpan<byte> data, ref int position)
    {
        switch (data[position])
        {
            case (byte)'i':
                var end = data[position..].IndexOf((byte)'e') + position;
                var number = long.Parse(Encoding.ASCII.GetString(data[(position + 1)..end]));
                position = end + 1;
                return number;
            case (byte)'l':
                position++;
                var list = new List<object>();
                while (data[position] != (byte)'e')
                {
                    list.Add(Read(data, ref position));
                }

                position++;
                return list;
            case (byte)'d':
                position++;
                var dictionary = new Dictionary<string, object>(StringComparer.Ordinal);
                byte[]? previous = null;
                while (data[position] != (byte)'e')
                {
                    var key = (byte[])Read(data, ref position);
                    if (previous is not null && previous.AsSpan().SequenceCompareTo(key) >= 0)
                    {
                        throw new FormatException("Dictionary keys are not in sorted order.");
                    }

                    previous = key;
                    dictionary[Encoding.Latin1.GetString(key)] = Read(data, ref position);
                }

                position++;
                return dictionary;
            default:
                var colon = data[position..].IndexOf((byte)':') + position;
                var length = int.Parse(Encoding.ASCII.GetString(data[position..colon]));
                var bytes = data.Slice(colon + 1, length).ToArray();
                position = colon + 1 + length;
                return bytes;
        }
    }

    private static void Write(MemoryStream output, object value)
    {
        switch (value)
        {
            case int or long:
                output.Write(Encoding.ASCII.GetBytes($"i{value}e"));
                break;
            case string text:
                WriteString(output, Encoding.UTF8.GetBytes(text));
                break;
            case byte[] bytes:
                WriteString(output, bytes);
                break;
            case IReadOnlyDictionary<string, object> dictionary:
                output.WriteByte((byte)'d');
                foreach (var (key, item) in dictionary.OrderBy(entry => entry.Key, StringComparer.Ordinal))
                {
                    WriteString(output, Encoding.UTF8.GetBytes(key));
                    Write(output, item);
                }

                output.WriteByte((byte)'e');
                break;
            default:
                throw new ArgumentException($"Cannot bencode a {value.GetType().Name}.", nameof(value));
        }
    }

    private static void WriteString(MemoryStream output, byte[] bytes)
    {
        output.Write(Encoding.ASCII.GetBytes($"{bytes.Length}:"));
        output.Write(bytes);
    }
}
