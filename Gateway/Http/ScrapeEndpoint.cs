using System.Buffers;
using System.Diagnostics;
using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Http;

/// <summary><c>GET /{passkey}/scrape</c>: several info hashes, one grain call each, all in flight together.</summary>
internal sealed partial class ScrapeEndpoint(
    IGrainFactory grains,
    TorrentGrainReferences swarms,
    ClusterRetry retry,
    UnknownKeys unknownKeys,
    UnknownPasskeyLimit unknownPasskeys,
    ClientAddressResolver addresses,
    IOptionsMonitor<GatewayOptions> options,
    GatewayMetrics metrics,
    ILogger<ScrapeEndpoint> logger)
{
    public const string Route = "/{passkey}/scrape";

    public async Task InvokeAsync(HttpContext context)
    {
        var startedAt = Stopwatch.GetTimestamp();
        var outcome = await AnswerAsync(context);
        metrics.Scraped(outcome, startedAt);
    }

    private async Task<RequestOutcome> AnswerAsync(HttpContext context)
    {
        var passkey = context.Request.RouteValues["passkey"] as string ?? "";
        if (!Passkeys.IsWellFormed(passkey))
        {
            await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.InvalidPasskey);
            return RequestOutcome.Malformed;
        }

        var gateway = options.CurrentValue;
        if (!RawQuery.TryParse<int, InfoHash[]>(context.Request, gateway.MaxQueryLength, gateway.MaxScrapeHashes, TryParseHashes, out var hashes, out var failure))
        {
            await BencodeResults.WriteFailureAsync(context.Response, failure);
            return RequestOutcome.Malformed;
        }

        TorrentCounts[] counts;
        try
        {
            var users = grains.GetGrain<IUserDirectoryGrain>(0);
            var user = Passkey.UserKeyOf(passkey);
            // The address is resolved (X-Forwarded-For split) only while some address is counted at all.
            if (unknownPasskeys.AnyCounted && unknownPasskeys.IsOverLimit(addresses.Resolve(context)))
            {
                await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.TooManyUnknownPasskeys);
                return RequestOutcome.UnknownPasskey;
            }

            var unknown = unknownKeys.IsUnknownPasskey(user);
            if (!unknown && await retry.CallAsync(() => users.FindUser(user)) is null)
            {
                // Remembered only from the cluster's answer: an entry renewed by its own refusals would never end.
                if (unknownKeys.RememberUnknownPasskey(user))
                {
                    unknownPasskeys.Count(addresses.Resolve(context));
                }

                unknown = true;
            }

            if (unknown)
            {
                await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.UnknownPasskey);
                return RequestOutcome.UnknownPasskey;
            }

            var calls = new SwarmCalls();
            counts = await Task.WhenAll(hashes.Select(hash => CountsAsync(hash, calls)));
            if (calls.Unavailable > 0 && calls.Unavailable == calls.Count)
            {
                // Not one torrent asked of the cluster could be answered.
                throw calls.FirstUnavailable!;
            }

            if (calls.Unavailable > 0)
            {
                Log.AnsweredWithout(logger, calls.Unavailable, hashes.Length, calls.FirstUnavailable!.Message);
            }
        }
        catch (SiteUnavailableException exception)
        {
            // Expected while the site's database is away: one line each, no stack trace.
            Log.SiteUnavailable(logger, hashes.Length, exception.Message);
            await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.Internal);
            return RequestOutcome.Unavailable;
        }
        catch (Exception exception)
        {
            Log.ScrapeFailed(logger, exception, hashes.Length);
            await BencodeResults.WriteFailureAsync(context.Response, TrackerFailure.Internal);
            return RequestOutcome.Unavailable;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(ScrapeResponseWriter.MaxSize(hashes.Length));
        var length = ScrapeResponseWriter.Write(buffer, hashes, counts);
        await BencodeResults.SendAsync(context.Response, buffer, length);
        return RequestOutcome.Accepted;
    }

    /// <summary>
    /// One torrent's figures. A torrent whose swarm cannot read the site now is left out of the reply, as clients
    /// take a torrent the tracker gives no figures for, rather than refusing the torrents that could be answered: a
    /// scrape of many torrents new to a silo whose database is slow or away would otherwise be refused as a whole.
    /// </summary>
    private async Task<TorrentCounts> CountsAsync(InfoHash hash, SwarmCalls calls)
    {
        // A torrent the cluster just answered unregistered to an announce is not asked again. A scrape's own answer
        // is not remembered: it reads a deleted torrent as unregistered too, and a site may restore one.
        if (unknownKeys.IsUnregistered(hash))
        {
            return TorrentCounts.Unregistered;
        }

        calls.Started();
        try
        {
            return await retry.CallAsync(swarms.For(hash).Scrape);
        }
        catch (SiteUnavailableException exception)
        {
            calls.WasUnavailable(exception);
            return TorrentCounts.Unregistered;
        }
    }

    /// <summary>One scrape's calls to swarms: how many, how many were answered unavailable, and the first reason.</summary>
    private sealed class SwarmCalls
    {
        private int _count;
        private int _unavailable;
        private SiteUnavailableException? _firstUnavailable;

        public int Count => Volatile.Read(ref _count);

        public int Unavailable => Volatile.Read(ref _unavailable);

        public SiteUnavailableException? FirstUnavailable => Volatile.Read(ref _firstUnavailable);

        public void Started() => Interlocked.Increment(ref _count);

        public void WasUnavailable(SiteUnavailableException exception)
        {
            Interlocked.CompareExchange(ref _firstUnavailable, exception, null);
            Interlocked.Increment(ref _unavailable);
        }
    }

    private static bool TryParseHashes(int maxHashes, ReadOnlySpan<byte> query, out InfoHash[] hashes, out string? failure)
    {
        var found = new InfoHash[maxHashes];
        if (!ScrapeQueryParser.TryParse(query, found, out var count, out failure))
        {
            hashes = [];
            return false;
        }

        // Bencode wants dictionary keys in byte order.
        hashes = found[..count];
        Array.Sort(hashes, static (a, b) => a.Value.CompareTo(b.Value));
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Scrape of {Count} torrents failed")]
        public static partial void ScrapeFailed(ILogger logger, Exception exception, int count);

        [LoggerMessage(2, LogLevel.Warning, "Scrape of {Count} torrents refused as unavailable: {Reason}")]
        public static partial void SiteUnavailable(ILogger logger, int count, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Scrape answered without {Unavailable} of its {Count} torrents, unavailable: {Reason}")]
        public static partial void AnsweredWithout(ILogger logger, int unavailable, int count, string reason);
    }
}
