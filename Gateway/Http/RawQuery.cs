using System.Buffers;
using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>A parser of raw query bytes, with a caller-supplied state so it can be a static lambda.</summary>
internal delegate bool RawQueryParser<TState, TResult>(TState state, ReadOnlySpan<byte> query, out TResult result, out string? failure);

/// <summary>
/// The request's query exactly as sent, as bytes. Kestrel keeps <c>QueryString</c> percent-encoded;
/// <c>Request.Query</c> would decode it as UTF-8 and ruin binary hashes, so it is never used here.
/// </summary>
internal static class RawQuery
{
    /// <summary>
    /// Copies the query into a pooled buffer and parses it there. A query over <paramref name="maxLength"/>
    /// or with a non-ASCII character fails with the matching reason before the parser runs.
    /// </summary>
    public static bool TryParse<TState, TResult>(
        HttpRequest request, int maxLength, TState state, RawQueryParser<TState, TResult> parse, out TResult result, out string failure)
    {
        var rented = ArrayPool<byte>.Shared.Rent(maxLength);
        try
        {
            if (!TryCopy(request, rented.AsSpan(0, maxLength), out var length))
            {
                result = default!;
                failure = length > maxLength ? TrackerFailure.QueryTooLong : TrackerFailure.BrokenEncoding;
                return false;
            }

            var ok = parse(state, rented.AsSpan(0, length), out result, out var reason);
            failure = reason ?? "";
            return ok;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Copies the query (without <c>?</c>) as ASCII; false for a non-ASCII character or a query longer than <paramref name="destination"/>.</summary>
    private static bool TryCopy(HttpRequest request, Span<byte> destination, out int length)
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
