using System.Diagnostics;
using System.Diagnostics.Metrics;
using Chihaya.Orleans.Grains.Metrics;

namespace Chihaya.Orleans.Gateway.Metrics;

/// <summary>
/// What the gateway counts, as <see cref="System.Diagnostics.Metrics"/> instruments (exported on <c>/metrics</c>) and as
/// running totals the cluster status reads. Recording costs no allocation: the outcome tags are made once.
/// </summary>
public sealed partial class GatewayMetrics
{
    private static readonly RequestOutcome[] Outcomes = Enum.GetValues<RequestOutcome>();
    private static readonly KeyValuePair<string, object?>[] OutcomeTags =
        [.. Outcomes.Select(outcome => new KeyValuePair<string, object?>("outcome", Label(outcome)))];

    private static readonly KeyValuePair<string, object?> AnnounceTag = new("endpoint", "announce");
    private static readonly KeyValuePair<string, object?> ScrapeTag = new("endpoint", "scrape");

    private readonly Counter<long> _announces;
    private readonly Counter<long> _scrapes;
    private readonly Histogram<double> _duration;
    private readonly long[] _announceTotals = new long[Outcomes.Length];
    private readonly long[] _scrapeTotals = new long[Outcomes.Length];
    private readonly ILogger<GatewayMetrics> _logger;

    public GatewayMetrics(IMeterFactory meters, ILogger<GatewayMetrics> logger)
    {
        _logger = logger;
        var meter = meters.Create(TrackerMeter.Name);
        _announces = meter.CreateCounter<long>("chihaya.announces", description: "Announces answered, by outcome (accepted or the kind of refusal).");
        _scrapes = meter.CreateCounter<long>("chihaya.scrapes", description: "Scrapes answered, by outcome.");
        _duration = meter.CreateHistogram<double>(
            "chihaya.request.duration",
            unit: "s",
            description: "Time from the request's arrival to its reply being written, by endpoint (announce, scrape).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    /// <summary>The label an outcome has in metrics and logs: <c>unknown_passkey</c>, ...</summary>
    public static string Label(RequestOutcome outcome) => outcome switch
    {
        RequestOutcome.Accepted => "accepted",
        RequestOutcome.Malformed => "malformed",
        RequestOutcome.UnknownPasskey => "unknown_passkey",
        RequestOutcome.Unregistered => "unregistered",
        RequestOutcome.Deleted => "deleted",
        RequestOutcome.ClientNotAllowed => "client_not_allowed",
        RequestOutcome.LeechNotAllowed => "leech_not_allowed",
        _ => "unavailable",
    };

    /// <summary>Counts an announce answered, timed from <paramref name="startedAt"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void Announced(RequestOutcome outcome, long startedAt)
    {
        _announces.Add(1, OutcomeTags[(int)outcome]);
        Interlocked.Increment(ref _announceTotals[(int)outcome]);
        _duration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, AnnounceTag);
        if (outcome != RequestOutcome.Accepted)
        {
            // One structured event per refusal kind, for operators chasing a client's complaint; never the passkey.
            Log.Refused(_logger, "announce", Label(outcome));
        }
    }

    /// <summary>Counts a scrape answered, timed from <paramref name="startedAt"/>.</summary>
    public void Scraped(RequestOutcome outcome, long startedAt)
    {
        _scrapes.Add(1, OutcomeTags[(int)outcome]);
        Interlocked.Increment(ref _scrapeTotals[(int)outcome]);
        _duration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, ScrapeTag);
        if (outcome != RequestOutcome.Accepted)
        {
            Log.Refused(_logger, "scrape", Label(outcome));
        }
    }

    /// <summary>Announces answered since start, per outcome (indexed by <see cref="RequestOutcome"/>).</summary>
    public long[] AnnounceTotals() => Read(_announceTotals);

    /// <summary>Scrapes answered since start, per outcome.</summary>
    public long[] ScrapeTotals() => Read(_scrapeTotals);

    private static long[] Read(long[] totals)
    {
        var copy = new long[totals.Length];
        for (var i = 0; i < totals.Length; i++)
        {
            copy[i] = Interlocked.Read(ref totals[i]);
        }

        return copy;
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Debug, "Refused {Request}: {Outcome}")]
        public static partial void Refused(ILogger logger, string request, string outcome);
    }
}
