using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Admin;

/// <summary>
/// Keeps the site's and operators' endpoints (the admin API, the status page and its data, <c>/metrics</c>) on the
/// admin port when <see cref="AdminOptions.Port"/> names one: asked on another port, they answer 404, as a path the
/// gateway does not serve would.
/// </summary>
internal static class OperatorPort
{
    /// <summary>Endpoint metadata of the endpoints kept on the admin port.</summary>
    public static readonly object Marker = new OperatorEndpoint();

    /// <summary>Middleware, after routing: refuses an operator endpoint reached through any port but the admin port.</summary>
    public static Func<HttpContext, RequestDelegate, Task> Middleware(IOptions<AdminOptions> options) => (context, next) =>
    {
        var port = options.Value.Port;
        // The socket's own port: the Host header is the sender's to write, so it proves nothing.
        if (port != 0 && context.Connection.LocalPort != port && context.GetEndpoint()?.Metadata.GetMetadata<OperatorEndpoint>() is not null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return next(context);
    };

    private sealed class OperatorEndpoint;
}
