using System.Security.Cryptography;
using System.Text;
using Chihaya.Orleans.Gateway.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Admin;

/// <summary>
/// Lets a request through only with <c>Authorization: Bearer &lt;Admin:Token&gt;</c>, compared in constant time.
/// It runs before the handlers read any body (none is bound: see <see cref="AdminJsonBody"/>).
/// </summary>
internal sealed class AdminTokenFilter(IOptionsMonitor<AdminOptions> options) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        // Answers behind the token (a user's passkey, the cluster's state) are for the caller alone: no cache keeps them.
        context.HttpContext.Response.Headers.CacheControl = "no-store";
        var token = options.CurrentValue.Token;
        if (string.IsNullOrEmpty(token))
        {
            return Refuse(context, Results.Problem("The admin API is disabled: set Admin:Token.", statusCode: StatusCodes.Status403Forbidden));
        }

        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        var presented = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : "";
        // Digests of equal length, so the time taken tells nothing of the token's length either.
        var matches = CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        return matches ? next(context) : Refuse(context, Results.Unauthorized());
    }

    private static ValueTask<object?> Refuse(EndpointFilterInvocationContext context, IResult result)
    {
        // The body is never read for a refused caller; closing spares reading it to reuse the connection.
        context.HttpContext.Response.Headers.Connection = "close";
        return ValueTask.FromResult<object?>(result);
    }
}
