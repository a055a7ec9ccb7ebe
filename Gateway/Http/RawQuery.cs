namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// The request's query exactly as sent, as bytes. Kestrel keeps <c>QueryString</c> percent-encoded;
/// <c>Request.Query</c> would decode it as UTF-8 and ruin binary hashes, so it is never used here.
/// </summary>
internal static class RawQuery
{
    /// <summary>Copies the query (without <c>?</c>) as ASCII; false for a non-ASCII character or a query longer than <paramref name="destination"/>.</summary>
    public static bool TryCopy(HttpRequest request, Span<byte> destination, out int length)
    {
        var query = request.QueryString.Value.AsSpan();
        if (query.StartsWith('?'))
        {
            query = query[1..];
        }

        length = query.Length;
        if (query.Length > destination.Length)
        {
            return false;
        }

        for (var i = 0; i < query.Length; i++)
        {
            var c = query[i];
            if (c > 0x7F)
            {
                return false;
            }

            destination[i] = (byte)c;
        }

        return true;
    }
}
