using System.Diagnostics.Metrics;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.Grains.Users;

namespace Chihaya.Orleans.Grains.Metrics;

/// <summary>
/// What a silo measures, as <see cref="System.Diagnostics.Metrics"/> instruments of the tracker's meter (exported on
/// <c>/metrics</c>): the swarms it holds and their peers, users cached, statistics accounted but not yet written, the
/// database's flush writes, and how long the site's change notices take to arrive. Gauges are read from what each
/// swarm publishes (<see cref="SwarmSchedule"/>) when a scrape asks, summed once for all of them.
/// </summary>
internal sealed class SiloMetrics
{
    private readonly SwarmSweeper _sweeper;
    private readonly UserDirectory _users;
    private readonly TimeProvider _time;
    private readonly Histogram<double> _flushDuration;
    private readonly Counter<long> _flushFailures;
    private readonly Counter<long> _flushRetries;
    private readonly Histogram<double> _noticeLag;
    private readonly Lock _gate = new();
    private SwarmTotals _totals;
    private long _totalsAt = long.MinValue;

    public SiloMetrics(IMeterFactory meters, SwarmSweeper sweeper, UserDirectory users, TimeProvider time)
    {
        _sweeper = sweeper;
        _users = users;
        _time = time;
        var meter = meters.Create(TrackerMeter.Name);
        meter.CreateObservableGauge("chihaya.swarms", () => Totals().Swarms, description: "Swarms with at least one peer held by this silo.");
        meter.CreateObservableGauge("chihaya.peers", () => Totals().Peers, description: "Peers in this silo's swarms.");
        meter.CreateObservableGauge("chihaya.seeders", () => Totals().Seeders, description: "Seeders in this silo's swarms.");
        meter.CreateObservableGauge("chihaya.leechers", () => Totals().Leechers, description: "Leechers in this silo's swarms.");
        meter.CreateObservableGauge("chihaya.cached_users", () => _users.Count, description: "Users in this silo's directory (known and unknown passkeys).");
        meter.CreateObservableGauge("chihaya.stats.unwritten", () => Totals().UnwrittenBytes, unit: "By", description: "Raw bytes (uploaded and downloaded) accounted by this silo's swarms and not yet written to the database.");
        meter.CreateObservableGauge("chihaya.stats.unwritten.age", () => Totals().OldestUnwrittenAge, unit: "s", description: "Age of the oldest announce whose statistics are not yet written (0 when all are).");
        _flushDuration = meter.CreateHistogram<double>(
            "chihaya.db.flush.duration",
            unit: "s",
            description: "Time of one database write of swarm flushes (a batch of up to 512 swarms' statistics and peers).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _flushFailures = meter.CreateCounter<long>("chihaya.db.flush.failures", description: "Database writes of flushes that failed (each of their flushes is resent).");
        _flushRetries = meter.CreateCounter<long>("chihaya.stats.flush.retries", description: "Swarm flushes that were not written and will be resent unchanged.");
        _noticeLag = meter.CreateHistogram<double>(
            "chihaya.site.notice.lag",
            unit: "s",
            description: "Time from a change notice's NOTIFY to this silo handling it (measured with the silo's own probe notices).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5] });
    }

    public void FlushWritten(TimeSpan took) => _flushDuration.Record(took.TotalSeconds);

    public void FlushWriteFailed(TimeSpan took)
    {
        _flushDuration.Record(took.TotalSeconds);
        _flushFailures.Add(1);
    }

    public void FlushToBeResent() => _flushRetries.Add(1);

    public void NoticeArrived(TimeSpan lag) => _noticeLag.Record(lag.TotalSeconds);

    /// <summary>The sums over this silo's swarms; made at most once a second, since a scrape reads several gauges.</summary>
    public SwarmTotals Totals()
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            if (_totalsAt == long.MinValue || _time.GetElapsedTime(_totalsAt, now) >= TimeSpan.FromSeconds(1))
            {
                _totals = _sweeper.Totals(_time.GetUtcNow().ToUnixTimeMilliseconds());
                _totalsAt = now;
            }

            return _totals;
        }
    }
}

/// <summary>A silo's swarms summed: what its gauges and its status report show.</summary>
internal readonly record struct SwarmTotals(int Swarms, long Seeders, long Leechers, long UnwrittenBytes, double OldestUnwrittenAge)
{
    public long Peers => Seeders + Leechers;
}
