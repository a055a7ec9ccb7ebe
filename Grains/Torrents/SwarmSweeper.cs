using System.Diagnostics;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One loop per silo in place of timers in every swarm: each tick it finds the swarms whose <see cref="SwarmSchedule"/>
/// is due and calls their <c>Sweep</c>. Ticks come a hundred times per shortest housekeeping period
/// (<see cref="StatsOptions.FlushInterval"/>, <see cref="TrackerOptions.PruneInterval"/>,
/// <see cref="SiteOptions.UnknownKeyLifetime"/>, <see cref="SiteOptions.RefreshInterval"/>), but no more often than
/// every <see cref="ShortestTick"/>: a job runs at most a tick after it is due (later only while a tick's sweeps outlast
/// the tick: the next one starts when they are done), and the swarms' flushes, due a flush interval after each one's
/// first change, are spread over the interval as their announces were, in small batches instead of queuing ahead of
/// announces. A swarm with nothing due costs one comparison a tick.
/// </summary>
internal sealed partial class SwarmSweeper(
    IOptions<StatsOptions> statsOptions,
    IOptions<TrackerOptions> trackerOptions,
    IOptions<SiteOptions> siteOptions,
    TimeProvider time,
    ILogger<SwarmSweeper> logger,
    IHostApplicationLifetime? lifetime = null) : BackgroundService
{
    /// <summary>
    /// How long a stopping silo waits for its swarms' statistics to be written before Orleans' own stop goes on; real
    /// time, as the stop's budget is (ShutdownDeadline: the host's 20 s, of which Orleans takes up to 10 s to
    /// deactivate swarms).
    /// </summary>
    internal static readonly TimeSpan StoppingFlushWait = TimeSpan.FromSeconds(5);

    // Swarms flushed at once as the silo stops: their writes are batched by the flush writer, so many wait on each.
    private const int StoppingFlushesAtOnce = 256;

    // What a tick sweeps is a burst of grain turns that announces queue behind, so ticks are many and sweeps few at a
    // time. Measured at the bench's keep-alive load (10,000 swarms, 250,000 peers, flushes every 5 s; bench/README):
    // 10 ticks a period with 16 sweeps at once, p99/p99.9 7.4-8.5/17-25 ms; 100 ticks with 16 at once 6.4-6.8/10-11 ms;
    // 100 ticks with 1-4 at once 4.8-6.0/7.6-9.8 ms, announces per second unchanged. A tick reads the due times only
    // (8 bytes a swarm in a row: well under a millisecond at 100,000 swarms), so 20 ticks a second cost an idle silo
    // little (1.29 % of a core holding 100,000 torrents, 1.17 % with 10 ticks). Two at once keep up with 100,000 swarms
    // filled at 11,000 announces a second: each flushed 5.0 s after its announce, as due.
    private const int TicksPerPeriod = 100;

    /// <summary>However short the periods are set, ticks no closer than this: a tick that finds nothing still costs a scan.</summary>
    internal static readonly TimeSpan ShortestTick = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Sweeps in flight at once: one per core, at least two and at most four (the counts measured), so announces never
    /// queue behind more than a few sweeps on any core, and one swarm with a long queue of announces does not hold
    /// every other sweep back. Container CPU limits are counted (<see cref="Environment.ProcessorCount"/>); a pod
    /// without a limit sees the node's cores, hence the cap.
    /// </summary>
    internal static readonly int SweepsAtOnce = Math.Clamp(Environment.ProcessorCount, 2, 4);

    // The swarms in slots, in pages that never move: a page of due times (long.MaxValue in a free slot) beside a page of
    // schedules. A tick reads the due times only, 8 bytes a swarm in a row; following a pointer per swarm through a
    // dictionary was 4 ms a tick at 100,000 swarms, most of an idle silo's own CPU (perf).
    public const int PageSize = 4096;
    private readonly Lock _slotsGate = new();
    private readonly List<long[]> _duePages = [];
    private readonly List<SwarmSchedule?[]> _swarmPages = [];
    private readonly Stack<int> _freeSlots = new();
    private int _count;

    private long _sweptUpTo = long.MinValue;

    /// <summary>The swarms active on this silo.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// The clock's reading (Unix milliseconds) at the start of the latest tick that has finished: every swarm due by then
    /// has been swept once. A count of finished ticks would not say as much: a tick that read the clock before it moved
    /// may finish after.
    /// </summary>
    public long SweptUpTo => Interlocked.Read(ref _sweptUpTo);

    /// <summary>Takes a swarm in (from its own turn, as it activates); its due time moves into a free slot.</summary>
    public void Add(SwarmSchedule swarm)
    {
        lock (_slotsGate)
        {
            if (!_freeSlots.TryPop(out var slot))
            {
                slot = _duePages.Count * PageSize;
                var due = new long[PageSize];
                Array.Fill(due, long.MaxValue);
                _duePages.Add(due);
                _swarmPages.Add(new SwarmSchedule?[PageSize]);
                for (var free = slot + PageSize - 1; free > slot; free--)
                {
                    _freeSlots.Push(free);
                }
            }

            swarm.Place(_duePages[slot / PageSize], slot);
            Volatile.Write(ref _swarmPages[slot / PageSize][slot % PageSize], swarm);
            _count++;
        }
    }

    /// <summary>Lets a swarm go (from its own turn, as it deactivates); its slot is free again.</summary>
    public void Remove(SwarmSchedule swarm)
    {
        lock (_slotsGate)
        {
            var slot = swarm.Slot;
            if (slot < 0 || _swarmPages[slot / PageSize][slot % PageSize] != swarm)
            {
                return;
            }

            swarm.Place(null, -1);
            Volatile.Write(ref _swarmPages[slot / PageSize][slot % PageSize], null);
            Volatile.Write(ref _duePages[slot / PageSize][slot % PageSize], long.MaxValue);
            _freeSlots.Push(slot);
            _count--;
        }
    }

    /// <summary>Every swarm held now (pages read as they are: one added or removed meanwhile may be missed or seen).</summary>
    private IEnumerable<SwarmSchedule> Swarms()
    {
        foreach (var page in Pages().Swarms)
        {
            for (var at = 0; at < page.Length; at++)
            {
                if (Volatile.Read(ref page[at]) is { } swarm)
                {
                    yield return swarm;
                }
            }
        }
    }

    /// <summary>The pages as they are now, both lists taken together so that a page of due times has its page of swarms.</summary>
    private (long[][] DueTimes, SwarmSchedule?[][] Swarms) Pages()
    {
        lock (_slotsGate)
        {
            return ([.. _duePages], [.. _swarmPages]);
        }
    }

    /// <summary>The swarms with peers, their published sizes and unwritten statistics, summed; the age of the oldest unwritten announce as of <paramref name="now"/> (Unix ms).</summary>
    public Metrics.SwarmTotals Totals(long now)
    {
        var (swarms, seeders, leechers, bytes, oldest) = (0, 0L, 0L, 0L, long.MaxValue);
        foreach (var swarm in Swarms())
        {
            // A swarm of no peers (an unregistered hash asked about, a torrent everyone left) is in memory but not active.
            swarms += swarm.Seeders + swarm.Leechers > 0 ? 1 : 0;
            seeders += swarm.Seeders;
            leechers += swarm.Leechers;
            bytes += swarm.UnwrittenBytes;
            oldest = Math.Min(oldest, swarm.UnwrittenSince);
        }

        return new Metrics.SwarmTotals(swarms, seeders, leechers, bytes, oldest == long.MaxValue ? 0 : Math.Max(0, now - oldest) / 1000.0);
    }

    /// <summary>
    /// The <paramref name="count"/> swarms with the most peers, largest first. One pass keeping the few largest seen,
    /// not a sort: it runs every few seconds over every swarm of the silo.
    /// </summary>
    public IReadOnlyList<SwarmSchedule> Busiest(int count)
    {
        if (count <= 0)
        {
            return [];
        }

        var busiest = new List<(int Peers, SwarmSchedule Swarm)>(count + 1);
        foreach (var swarm in Swarms())
        {
            var peers = swarm.Seeders + swarm.Leechers;
            if (busiest.Count == count && peers <= busiest[^1].Peers)
            {
                continue;
            }

            var at = busiest.FindIndex(entry => entry.Peers < peers);
            busiest.Insert(at < 0 ? busiest.Count : at, (peers, swarm));
            if (busiest.Count > count)
            {
                busiest.RemoveAt(count);
            }
        }

        return [.. busiest.Select(entry => entry.Swarm)];
    }

    /// <summary>
    /// Sweeps every swarm that is due now, a few at a time: a swarm answers once its own turn is done (it does not wait
    /// for the database), and announces never queue behind more than a few sweeps.
    /// </summary>
    public async Task SweepDueAsync()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        List<SwarmSchedule>? due = null;
        var (duePages, swarmPages) = Pages();
        for (var page = 0; page < duePages.Length; page++)
        {
            var dueAt = duePages[page];
            for (var at = 0; at < dueAt.Length; at++)
            {
                if (Volatile.Read(ref dueAt[at]) <= now && Volatile.Read(ref swarmPages[page][at]) is { } swarm)
                {
                    (due ??= []).Add(swarm);
                }
            }
        }

        if (due is not null)
        {
            await Parallel.ForEachAsync(
                due,
                new ParallelOptions { MaxDegreeOfParallelism = SweepsAtOnce },
                async (swarm, _) => await SweepAsync(swarm));
        }

        // A direct call (a unit test's) may overlap a timer tick: the latest reading wins.
        var swept = Interlocked.Read(ref _sweptUpTo);
        while (swept < now && Interlocked.CompareExchange(ref _sweptUpTo, now, swept) is var seen && seen != swept)
        {
            swept = seen;
        }
    }

    /// <summary>
    /// Ticks a period apart, counted from the start of the last tick (at once when a tick outlasted its period), as a
    /// periodic timer would. Each wait is a one-shot delay, not a periodic timer: when the clock jumps (a test's fake
    /// clock moved on hours, a resumed VM), a fake clock calls a periodic timer back once for every period it skipped
    /// (216,000 times for three hours of 50 ms ticks), each call waking this loop to contend for the clock's lock, which
    /// stalled a CI run's tests for minutes; a delay is called back once.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = Period();
        var tickStartedAt = time.GetTimestamp();
        try
        {
            while (true)
            {
                var remaining = period - time.GetElapsedTime(tickStartedAt);
                if (remaining > TimeSpan.Zero)
                {
                    var delay = Task.Delay(remaining, time, stoppingToken);
                    // The delay counts from the clock's reading as it is set: had the clock moved past the tick's time
                    // just before, the tick would wait for the clock's next move.
                    if (time.GetElapsedTime(tickStartedAt) < period)
                    {
                        await delay;
                    }
                }

                stoppingToken.ThrowIfCancellationRequested();
                tickStartedAt = time.GetTimestamp();
                await SweepDueAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>How far apart ticks come: a hundredth of the shortest housekeeping period, but never under <see cref="ShortestTick"/>.</summary>
    internal static TimeSpan TickFor(StatsOptions stats, TrackerOptions tracker, SiteOptions site)
    {
        TimeSpan[] periods = [stats.FlushInterval, tracker.PruneInterval, site.UnknownKeyLifetime, site.RefreshInterval];
        var tick = periods.Min() / TicksPerPeriod;
        return tick < ShortestTick ? ShortestTick : tick;
    }

    private TimeSpan Period() => TickFor(statsOptions.Value, trackerOptions.Value, siteOptions.Value);

    /// <summary>
    /// The silo is stopping. Writes what every swarm holds unwritten now, waiting up to <see cref="StoppingFlushWait"/>,
    /// then goes on sweeping (so flushing every flush interval) until the host has stopped. Orleans deactivates the
    /// swarms, each writing its final flush, only once it has marked the silo ShuttingDown in its membership table,
    /// which it retries while Redis is away until the host's stop timeout, then stops ungracefully with what little time
    /// ShutdownDeadline leaves; with this loop stopped first, such a stop wrote nothing more and lost what a crash loses
    /// (goodbyes, first announces and completions since the last flush). A unit test's sweeper, with no host, just stops.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (lifetime is null)
        {
            await base.StopAsync(cancellationToken);
            return;
        }

        lifetime.ApplicationStopped.Register(() => _ = base.StopAsync(CancellationToken.None));
        var unwritten = Swarms().Where(swarm => swarm.HasUnwritten).ToList();
        if (unwritten.Count == 0)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var written = 0;
        var flushes = Parallel.ForEachAsync(
            unwritten,
            new ParallelOptions { MaxDegreeOfParallelism = StoppingFlushesAtOnce },
            async (swarm, _) =>
            {
                try
                {
                    await swarm.Grain.FlushUsage();
                    Interlocked.Increment(ref written);
                }
                catch (Exception exception)
                {
                    // Its deactivation writes it, or the next flush interval's sweep.
                    Log.SweepFailed(logger, exception);
                }
            });
        try
        {
            await flushes.WaitAsync(StoppingFlushWait, cancellationToken);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            // The flushes go on; so does the stop.
        }

        Log.FlushedOnStop(logger, Volatile.Read(ref written), unwritten.Count, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task SweepAsync(SwarmSchedule swarm)
    {
        try
        {
            await swarm.Grain.Sweep();
        }
        catch (Exception exception)
        {
            // The swarm is still due, so the next tick sweeps it again (a silo shutting down, a grain deactivating).
            Log.SweepFailed(logger, exception);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "A swarm's housekeeping failed; the next sweep tries again")]
        public static partial void SweepFailed(ILogger logger, Exception exception);

        [LoggerMessage(2, LogLevel.Information, "Stopping: wrote the statistics of {Written} of the {Unwritten} swarms holding unwritten ones, in {Milliseconds} ms; the rest are written as they deactivate")]
        public static partial void FlushedOnStop(ILogger logger, int written, int unwritten, long milliseconds);
    }
}
