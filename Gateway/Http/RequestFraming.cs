namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// Refuses, before anything reads the body, a request whose body length two HTTP parsers (a proxy in front and
/// Kestrel) could read differently, so nothing hidden after its body is answered: 400 and the connection closed.
/// </summary>
/// <remarks>
/// Only what Kestrel lets through is checked here. Kestrel already refuses, with 400 and a close, a repeated or
/// non-numeric <c>Content-Length</c> and a <c>Transfer-Encoding</c> whose last coding is not chunked; a signed
/// <c>Content-Length</c> is refused in its header parser through <see cref="ContentLengthEncoding"/>. It accepts
/// <c>gzip, chunked</c>, a repeated <c>Transfer-Encoding</c>, and <c>Transfer-Encoding</c> together with
/// <c>Content-Length</c> (ignoring the length), which are refused here.
/// </remarks>
internal static class RequestFraming
{
    // Kestrel moves a Content-Length sent with Transfer-Encoding here before the pipeline runs (RFC 9112 §6.1 lets
    // it ignore the length; we refuse instead). Content-Length itself is checked too, should that ever change.
    private const string KestrelMovedContentLength = "X-Content-Length";

    public static Task RefuseAmbiguousAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Request.Headers;
        var transferEncoding = headers.TransferEncoding;
        if (transferEncoding.Count == 0
            || (transferEncoding.Count == 1
                && string.Equals(transferEncoding[0], "chunked", StringComparison.OrdinalIgnoreCase)
                && headers.ContentLength is null
                && !headers.ContainsKey(KestrelMovedContentLength)))
        {
            return next(context);
        }

        // Kestrel closes after a response that says so, without reading on into the unread body.
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.Headers.Connection = "close";
        return Task.CompletedTask;
    }
}
