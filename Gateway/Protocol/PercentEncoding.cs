namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>
/// Decodes URL query values straight into bytes. Binary values (info_hash, peer_id) must never pass
/// through a text decoder: one UTF-8 round trip destroys every byte above 0x7F.
/// </summary>
internal static class PercentEncoding
{
    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="destination"/>: <c>%XX</c> (either case) is one
    /// byte, <c>+</c> is a space as in form encoding, anything else is itself. False for a broken escape or
    /// when the result does not fit.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> encoded, Span<byte> destination, out int written)
    {
        written = 0;
        for (var i = 0; i < encoded.Length; i++)
        {
            if (written == destination.Length)
            {
                return false;
            }

            var b = encoded[i];
            if (b == (byte)'%')
            {
                if (i + 2 >= encoded.Length)
                {
                    return false;
                }

                var high = HexValue(encoded[i + 1]);
                var low = HexValue(encoded[i + 2]);
                if ((high | low) < 0)
                {
                    return false;
                }

                destination[written++] = (byte)((high << 4) | low);
                i += 2;
            }
            else
            {
                destination[written++] = b == (byte)'+' ? (byte)' ' : b;
            }
        }

        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
