using System.Runtime.CompilerServices;
using System.Buffers;
using System.Diagnostics;
using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// <c>GET /{passkey}/announce</c>: raw query in, bencode out. Client mistakes and refusals are HTTP 200
/// with a <c>failure reason</c>, as clients expect; an unexpected error is logged and answered the same way.
/// </summary>
internal sealed partial class AnnounceEndpoint(
    AnnounceHandler handler,
    ClientAddressResolver addresses,
    IOptionsMonitor<GatewayOptions> options,
    GatewayMetrics metrics,
    ILogger<AnnounceEndpoint> logger)
{
    public const string Route = "/{passkey}/announce";

    public async Task InvokeAsync(HttpContext context)
    {
        var startedAt = Stopwatch.GetTimestamp();
        var outcome = await AnswerAsync(context);
        metrics.Announced(outcome, startedAt);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RequestOutcome> AnswerAsync(HttpContext context)
    {
        var passkey = context.Request.RouteValues["passkey"] as string ?? "";
        if (!Passkeys.IsWellFormed(passkey))
        {
            await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.InvalidPasskey);
            return RequestOutcome.Malformed;
        }

        var gateway = options.CurrentValue;
        if (!RawQuery.TryParse(
                context.Request,
                gateway.MaxQueryLength,
                gateway.TrustClaimedAddresses,
                static (bool trust, ReadOnlySpan<byte> raw, out AnnounceQuery parsed, out string? reason) =>
                    AnnounceQueryParser.TryParse(raw, trust, out parsed, out reason),
                out var query,
                out var failure))
        {
            await BencodeResults.WriteFailureAsync(context.Response, failure);
            return RequestOutcome.Malformed;
        }

        var address = addresses.Resolve(context);
        var claimed = address?.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? query.ClaimedIPv6 ?? query.ClaimedIPv4
            : query.ClaimedIPv4 ?? query.ClaimedIPv6;
        address = claimed ?? address;
        if (address is null)
        {
            await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.NoAddress);
            return RequestOutcome.Malformed;
        }

        AnnounceReply reply;
        try
        {
            var warning = query.IgnoredClaimedAddress ? TrackerFailure.IgnoredAddressWarning : null;
            reply = await handler.HandleAsync(passkey, query, PeerEndpoint.From(address, query.Port), warning);
        }
        catch (Exception exception)
        {
            Log.AnnounceFailed(logger, exception, query.InfoHash.ToGrainKey());
            reply = AnnounceReply.Refused(TrackerFailure.Internal, RequestOutcome.Unavailable);
        }

        if (reply.Failure is not null)
        {
            await BencodeResults.WriteFailureAsync(context.Response, reply.Failure);
            return reply.Outcome;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(AnnounceReplyWriter.MaxSize(reply));
        var length = AnnounceReplyWriter.Write(buffer, reply);
        await BencodeResults.SendAsync(context.Response, buffer, length);
        return RequestOutcome.Accepted;
    }

    /// <summary>The private-tracker hint for clients that announce without a passkey.</summary>
    public static Task MissingPasskeyAsync(HttpContext context) =>
        BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.MissingPasskey);

    private static partial class Log
    {
        // Safe to log whole: grain ids and messages carry passkey digests only (see Passkey).
        [LoggerMessage(1, LogLevel.Error, "Announce for torrent {InfoHash} failed")]
        public static partial void AnnounceFailed(ILogger logger, Exception exception, string infoHash);
    }
}
