using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace Chihaya.Orleans.Gateway.Admin;

/// <summary>
/// Reads an admin request's JSON body, once <see cref="AdminTokenFilter"/> has let the caller in. Minimal API
/// binding would read and parse it before any endpoint filter runs, so anyone could make the gateway read a large
/// body, and bad JSON would get 400 instead of 401.
/// </summary>
internal static class AdminJsonBody
{
    /// <summary>Largest body read; a user or torrent document is a few hundred bytes.</summary>
    public const int MaxSize = 64 * 1024;

    // Web defaults (camelCase names), but strict about what a typo would otherwise turn into a silent default: a member
    // the document does not have ("can_leech" for "canLeech" left leeching allowed) or one given twice is a 400.
    private static readonly JsonSerializerOptions Strict = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    /// <summary>The document, or the refusal to return instead (413, 415, 400…), with an <c>error</c>.</summary>
    public static async Task<(T? Document, IResult? Refusal)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.ContentLength > MaxSize)
        {
            return (null, TooLarge(request));
        }

        if (!request.HasJsonContentType())
        {
            return (null, Error("the body must be JSON (Content-Type: application/json)", StatusCodes.Status415UnsupportedMediaType));
        }

        // A chunked body has no length up front: Kestrel stops it at the cap as it is read.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxSize;
        }

        try
        {
            var document = await request.ReadFromJsonAsync<T>(Strict, request.HttpContext.RequestAborted);
            return document is null ? (null, Error("the body must be a JSON object", StatusCodes.Status400BadRequest)) : (document, null);
        }
        catch (JsonException exception)
        {
            return (null, Error($"malformed JSON: {exception.Message}", StatusCodes.Status400BadRequest));
        }
        catch (InvalidOperationException exception) when (exception.InnerException is ArgumentException)
        {
            // ReadFromJsonAsync's answer to a charset it has no encoding for (the content type was checked above).
            return (null, Error("the body's charset is not one .NET knows (send UTF-8)", StatusCodes.Status415UnsupportedMediaType));
        }
        catch (BadHttpRequestException exception)
        {
            // Over the cap (413), cut short, or too slow: Kestrel's reason and status, as binding would give.
            return (null, exception.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(request) : Error(exception.Message, exception.StatusCode));
        }
    }

    private static IResult TooLarge(HttpRequest request)
    {
        // The rest of the body stays unread; closing spares reading it to reuse the connection.
        request.HttpContext.Response.Headers.Connection = "close";
        return Error($"the body must be at most {MaxSize / 1024} KiB", StatusCodes.Status413PayloadTooLarge);
    }

    private static IResult Error(string error, int statusCode) => Results.Json(new { error }, statusCode: statusCode);
}
