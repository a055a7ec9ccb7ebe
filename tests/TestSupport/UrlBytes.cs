using System.Text;

namespace Chihaya.Orleans.TestSupport;

/// <summary>Percent-encodes raw bytes the way real clients do: unreserved characters literal, the rest %XX.</summary>
public static class UrlBytes
{
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append('%').Append(b.ToString("X2"));
            }
        }

        return text.ToString();
    }

    /// <summary>20 random bytes, with every client's favourite troublemakers likely among them.</summary>
    public static byte[] Random20()
    {
        var bytes = new byte[20];
        System.Random.Shared.NextBytes(bytes);
        return bytes;
    }
}
