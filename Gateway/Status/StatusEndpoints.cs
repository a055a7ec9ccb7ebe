using System.Reflection;
using Chihaya.Orleans.Gateway.Admin;
using Chihaya.Orleans.Grains.Interfaces;
using Microsoft.Net.Http.Headers;

namespace Chihaya.Orleans.Gateway.Status;

/// <summary>
/// The live status page. <c>GET /status</c> and its scripts are public and hold no data: the page asks for the admin
/// token (kept in the tab's sessionStorage, or taken from a <c>#token=</c> fragment, which browsers never send) and
/// reads <c>GET /status/data</c> with it, behind the same <see cref="AdminTokenFilter"/> as the admin API. Every file
/// it loads comes from this assembly: no CDN, no internet.
/// </summary>
internal static class StatusEndpoints
{
    public const string PagePath = "/status";
    public const string DataPath = "/status/data";

    private const string ResourcePrefix = "Chihaya.Orleans.Gateway.Status.Page.";

    // The page's own files and the vendored uPlot, by the name the page asks for.
    private static readonly Dictionary<string, (string Resource, string ContentType)> Assets = new(StringComparer.Ordinal)
    {
        ["status.js"] = ("status.js", "text/javascript; charset=utf-8"),
        ["status.css"] = ("status.css", "text/css; charset=utf-8"),
        ["uPlot.iife.min.js"] = ("vendor.uPlot.iife.min.js", "text/javascript; charset=utf-8"),
        ["uPlot.min.css"] = ("vendor.uPlot.min.css", "text/css; charset=utf-8"),
    };

    // Only this origin's files and data; inline styles are uPlot's.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(PagePath, (HttpContext context) => File(context, "status.html", "text/html; charset=utf-8"));
        endpoints.MapGet(PagePath + "/assets/{name}", (string name, HttpContext context) =>
            Assets.TryGetValue(name, out var asset) ? File(context, asset.Resource, asset.ContentType) : Results.NotFound());
        endpoints.MapGet(DataPath, async (IGrainFactory grains, TimeProvider time) =>
        {
            try
            {
                var status = await grains.GetGrain<IClusterStatusGrain>(0).GetStatus();
                var members = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
                return Results.Json(StatusDocument.From(status, members, time.GetUtcNow()));
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                return Results.Json(new { error = $"the cluster does not answer: {exception.GetType().Name}: {exception.Message}" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        }).AddEndpointFilter<AdminTokenFilter>();
        return endpoints;
    }

    private static IResult File(HttpContext context, string resource, string contentType)
    {
        var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + resource)
            ?? throw new InvalidOperationException($"The status page's {resource} is not embedded in the gateway.");
        context.Response.Headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
        context.Response.Headers[HeaderNames.XContentTypeOptions] = "nosniff";
        context.Response.Headers[HeaderNames.CacheControl] = "no-cache";
        return Results.Stream(stream, contentType);
    }
}
