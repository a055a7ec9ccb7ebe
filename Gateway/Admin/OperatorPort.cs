using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Admin;

/// <summary>
/// Keeps the site's and operators' endpoints (the admin API, the status page and its data, <c>/metrics</c>) on the
/// admin port when <see cref="AdminOptions.Port"/> names one: asked on another port, they answer 421 Misdirected
/// Request, whatever the method.
/// </summary>
internal static class OperatorPort
{
    /// <summary>Endpoint metadata of the endpoints kept on the admin port.</summary>
    public static readonly object Marker = new OperatorEndpoint();

    /// <summary>What a refused request reads: a status the admin API itself never answers, so no site reads it as one.</summary>
    public const string Refusal = "Not on this port: the admin API, the status page and /metrics answer on the gateway's admin port (Admin:Port).";

    // By path too, not only by the endpoint matched: a wrong method matches routing's own 405 endpoint, which carries
    // no metadata, and would answer 405 with the methods allowed.
    private static readonly PathString[] Prefixes = ["/admin", "/status", "/metrics"];

    /// <summary>Middleware, after routing: refuses an operator endpoint reached through any port but the admin port.</summary>
    public static Func<HttpContext, RequestDelegate, Task> Middleware(IOptions<AdminOptions> options) => (context, next) =>
    {
        var port = options.Value.Port;
        // The socket's own port: the Host header is the sender's to write, so it proves nothing.
        if (port != 0 && context.Connection.LocalPort != port && IsOperatorRequest(context))
        {
            // 404 would read as "no such user" to a site whose revocation still calls the old port, and it would then
            // take a passkey that goes on working for deleted.
            context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync(Refusal);
        }

        return next(context);
    };

    private static bool IsOperatorRequest(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<OperatorEndpoint>() is not null)
        {
            return true;
        }

        foreach (var prefix in Prefixes)
        {
            if (context.Request.Path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private sealed class OperatorEndpoint;
}
