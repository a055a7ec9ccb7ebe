using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary>
/// <c>GET /{passkey}/announce</c>: raw query in, bencode out. Client mistakes and refusals are HTTP 200
/// with a <c>failure reason</c>, as clients expect; an unexpected error is logged and answered the same way.
/// </summary>
internal sealed partial class AnnounceEndpoint(
    AnnounceHandler handler,
    UnknownPasskeyLimit unknownPasskeys,
    ClientAddressResolver addresses,
    IOptionsMonitor<GatewayOptions> options,
    GatewayMetrics metrics,
    ILogger<AnnounceEndpoint> logger)
{
    public const string Route = "/{passkey}/announce";

    /// <summary>
    /// Answers the announce. Not an async method itself: <see cref="AnswerAsync"/>, which awaits the handler's call,
    /// keeps this path's state machine, and the cluster retry's is the only other one kept across the grain call (the
    /// four this path had were about 900 bytes an announce, and at 64 connections the pool of the pooled ones rarely
    /// had one to give back).
    /// </summary>
    public Task InvokeAsync(HttpContext context)
    {
        var startedAt = Stopwatch.GetTimestamp();
        var passkey = context.Request.RouteValues["passkey"] as string ?? "";
        if (!Passkeys.IsWellFormed(passkey))
        {
            return RefuseAsync(context, TrackerFailure.InvalidPasskey, RequestOutcome.Malformed, startedAt);
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
            return RefuseAsync(context, failure, RequestOutcome.Malformed, startedAt);
        }

        var client = addresses.Resolve(context);
        if (unknownPasskeys.IsOverLimit(client))
        {
            return RefuseAsync(context, TrackerFailure.TooManyUnknownPasskeys, RequestOutcome.UnknownPasskey, startedAt);
        }

        var address = AddressToServe(client, query);
        if (address is null)
        {
            return RefuseAsync(context, TrackerFailure.NoAddress, RequestOutcome.Malformed, startedAt);
        }

        ValueTask<AnnounceResult> call;
        try
        {
            call = handler.AnnounceAsync(Passkey.UserKeyOf(passkey), query, PeerEndpoint.From(address, query.Port));
        }
        catch (Exception exception)
        {
            call = ValueTask.FromException<AnnounceResult>(exception);
        }

        var warning = query.IgnoredClaimedAddress ? TrackerFailure.IgnoredAddressWarning : null;
        return AnswerAsync(context, call, passkey, query.InfoHash, query.Compact, warning, client, startedAt);
    }

    private async Task AnswerAsync(
        HttpContext context, ValueTask<AnnounceResult> call, string passkey, InfoHash infoHash, bool compact, string? warning, IPAddress? client, long startedAt)
    {
        AnnounceReply reply;
        try
        {
            reply = handler.Reply(await call, passkey, infoHash, compact, warning, client);
        }
        catch (SiteUnavailableException exception)
        {
            // Expected while the site's database is away: one line each, no stack trace.
            Log.SiteUnavailable(logger, infoHash.ToGrainKey(), exception.Message);
            reply = AnnounceReply.Refused(TrackerFailure.Internal, RequestOutcome.Unavailable);
        }
        catch (Exception exception)
        {
            Log.AnnounceFailed(logger, exception, infoHash.ToGrainKey());
            reply = AnnounceReply.Refused(TrackerFailure.Internal, RequestOutcome.Unavailable);
        }

        if (reply.Failure is not null)
        {
            await RefuseAsync(context, reply.Failure, reply.Outcome, startedAt);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(AnnounceReplyWriter.MaxSize(reply));
        var length = AnnounceReplyWriter.Write(buffer, reply);
        await BencodeResults.SendAsync(context.Response, buffer, length);
        metrics.Announced(RequestOutcome.Accepted, startedAt);
    }

    private async Task RefuseAsync(HttpContext context, string reason, RequestOutcome outcome, long startedAt)
    {
        await BencodeResults.WriteFailureAsync(context.Response, reason);
        metrics.Announced(outcome, startedAt);
    }

    /// <summary>The private-tracker hint for clients that announce without a passkey.</summary>
    public static Task MissingPasskeyAsync(HttpContext context) =>
        BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.MissingPasskey);

    /// <summary>
    /// The address peers are given for the announcer when it claims addresses (BEP 7) a gateway trusts: a claimed IPv4
    /// address, which nearly every peer can reach; else a claimed IPv6 address if it announced over IPv6; else the
    /// address it announced from. A swarm keeps one address per peer, so an IPv4 client's <c>ipv6=</c> (sent by
    /// clients with a global IPv6 address) would have taken it away from every IPv4 peer.
    /// </summary>
    internal static IPAddress? AddressToServe(IPAddress? announcedFrom, in AnnounceQuery query) =>
        query.ClaimedIPv4
        ?? (announcedFrom is null || announcedFrom.AddressFamily == AddressFamily.InterNetworkV6 ? query.ClaimedIPv6 : null)
        ?? announcedFrom;

    private static partial class Log
    {
        // Safe to log whole: grain ids and messages carry passkey digests only (see Passkey).
        [LoggerMessage(1, LogLevel.Error, "Announce for torrent {InfoHash} failed")]
        public static partial void AnnounceFailed(ILogger logger, Exception exception, string infoHash);

        // The reason is the silo's own sentence (a read that did not answer in time, or the database's error message).
        [LoggerMessage(2, LogLevel.Warning, "Announce for torrent {InfoHash} refused as unavailable: {Reason}")]
        public static partial void SiteUnavailable(ILogger logger, string infoHash, string reason);
    }
}
