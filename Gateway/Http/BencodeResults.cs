using System.Buffers;
using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>Sends bencoded bodies: HTTP 200, <c>text/plain</c>, Content-Length set, from a pooled buffer.</summary>
internal static class BencodeResults
{
    public static Task WriteFailureAsync(HttpResponse response, string reason)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(AnnounceReplyWriter.MaxFailureSize(reason));
        var length = AnnounceReplyWriter.WriteFailure(buffer, reason);
        return SendAsync(response, buffer, length);
    }

    /// <summary>Sends <paramref name="length"/> bytes of <paramref name="rented"/> and returns it to the pool.</summary>
    public static async Task SendAsync(HttpResponse response, byte[] rented, int length)
    {
        try
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "text/plain";
            response.ContentLength = length;
            await response.Body.WriteAsync(rented.AsMemory(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
