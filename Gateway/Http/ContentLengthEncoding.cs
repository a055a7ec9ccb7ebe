using System.Text;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// The decoding Kestrel is told to use for <c>Content-Length</c> (<c>KestrelServerOptions.RequestHeaderEncodingSelector</c>),
/// so that only RFC 9110's <c>1*DIGIT</c> is a length. Kestrel's own parser takes a sign (<c>+5</c>, <c>-0</c>),
/// which a proxy in front may read differently: a request could then hide a second one in its body. Middleware
/// cannot catch this: Kestrel keeps only the parsed number. A value that is not 1 to 19 ASCII digits decodes to
/// a single U+FFFD instead, which Kestrel refuses as an invalid length with 400 and a closed connection.
/// </summary>
internal sealed class ContentLengthEncoding : Encoding
{
    public static readonly ContentLengthEncoding Instance = new();

    // Kestrel decodes the value into 20 chars and refuses more than 19 (long.MaxValue has 19 digits).
    private const int MaxDigits = 19;

    private const char Invalid = '\uFFFD';

    public override int GetCharCount(byte[] bytes, int index, int count) => IsDigits(bytes.AsSpan(index, count)) ? count : 1;

    public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex) =>
        GetChars(bytes.AsSpan(byteIndex, byteCount), chars.AsSpan(charIndex));

    public override int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        if (!IsDigits(bytes))
        {
            chars[0] = Invalid;
            return 1;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            chars[i] = (char)bytes[i];
        }

        return bytes.Length;
    }

    public override int GetMaxCharCount(int byteCount) => Math.Max(byteCount, 1);

    // Only request headers are decoded with it; nothing is ever encoded.
    public override int GetByteCount(char[] chars, int index, int count) => throw new NotSupportedException();

    public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex) => throw new NotSupportedException();

    public override int GetMaxByteCount(int charCount) => throw new NotSupportedException();

    private static bool IsDigits(ReadOnlySpan<byte> value) =>
        value.Length is > 0 and <= MaxDigits && !value.ContainsAnyExceptInRange((byte)'0', (byte)'9');
}
