using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Gateway.Admin;

/// <summary>
/// Answers an admin call 503 with the reason and a <c>Retry-After</c> when the site's database or the cluster did not
/// answer it, rather than a bare 500. Every admin call can simply be made again: PUT and DELETE say what the site should
/// hold, so one that was stored before the failure stores nothing new the second time.
/// </summary>
internal sealed partial class AdminUnavailableFilter(ILogger<AdminUnavailableFilter> logger) : IEndpointFilter
{
    private const int RetryAfterSeconds = 5;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        string error;
        try
        {
            return await next(context);
        }
        catch (SiteUnavailableException outage)
        {
            error = outage.Message;
        }
        catch (Exception exception) when (ClusterRetry.IsSiloGone(exception))
        {
            // Whether a write was stored before the silo went is not known: the answer says to call again.
            error = $"no silo answered ({exception.GetType().Name}); it may or may not have been stored, call again";
        }

        Log.Unavailable(logger, context.HttpContext.Request.Method, error);
        context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Json(new { error }, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static partial class Log
    {
        // The path is left out: it holds a passkey.
        [LoggerMessage(1, LogLevel.Warning, "Admin {Method} answered 503: {Error}")]
        public static partial void Unavailable(ILogger logger, string method, string error);
    }
}
