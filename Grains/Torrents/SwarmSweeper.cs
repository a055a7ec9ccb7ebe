using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One loop per silo in place of timers in every swarm: each tick it finds the swarms whose <see cref="SwarmSchedule"/>
/// is due and calls their <c>Sweep</c>. Ticks come twenty times per shortest housekeeping period
/// (<see cref="StatsOptions.FlushInterval"/>, <see cref="TrackerOptions.PruneInterval"/>,
/// <see cref="SiteOptions.UnknownKeyLifetime"/>, <see cref="SiteOptions.RefreshInterval"/>): each job runs at most a
/// twentieth of its period late, and the swarms' flushes, due a flush interval after each one's first change, are
/// spread over the interval as their announces were, instead of all queuing ahead of announces at one tick. A swarm
/// with nothing due costs one comparison a tick.
/// </summary>
internal sealed partial class SwarmSweeper(
    IOptions<StatsOptions> statsOptions,
    IOptions<TrackerOptions> trackerOptions,
    IOptions<SiteOptions> siteOptions,
    TimeProvider time,
    ILogger<SwarmSweeper> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<SwarmSchedule, byte> _swarms = new(ReferenceEqualityComparer.Instance);
    // Each tick reads every swarm's schedule (100,000 of them on a busy silo), so ticks are few: with 10 per shortest
    // period (every 500 ms at a 5 s flush interval) a flush or prune is at most a tenth of its period late.
    private const int TicksPerPeriod = 10;
    private const int SweepsAtOnce = 16;

    private long _sweeps;

    /// <summary>The swarms active on this silo.</summary>
    public int Count => _swarms.Count;

    /// <summary>How many ticks have finished: every swarm due at a tick has been swept once this count passes it.</summary>
    public long CompletedSweeps => Interlocked.Read(ref _sweeps);

    public void Add(SwarmSchedule swarm) => _swarms.TryAdd(swarm, 0);

    /// <summary>The swarms with peers, their published sizes and unwritten statistics, summed; the age of the oldest unwritten announce as of <paramref name="now"/> (Unix ms).</summary>
    public Metrics.SwarmTotals Totals(long now)
    {
        var (swarms, seeders, leechers, bytes, oldest) = (0, 0L, 0L, 0L, long.MaxValue);
        foreach (var (swarm, _) in _swarms)
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
        foreach (var (swarm, _) in _swarms)
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

    public void Remove(SwarmSchedule swarm) => _swarms.TryRemove(swarm, out _);

    /// <summary>
    /// Sweeps every swarm that is due now, a few at a time: a swarm answers once its own turn is done (it does not wait
    /// for the database), and announces never queue behind more than a few sweeps.
    /// </summary>
    public async Task SweepDueAsync()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        List<SwarmSchedule>? due = null;
        foreach (var (swarm, _) in _swarms)
        {
            if (swarm.DueAt <= now)
            {
                (due ??= []).Add(swarm);
            }
        }

        if (due is not null)
        {
            await Parallel.ForEachAsync(
                due,
                new ParallelOptions { MaxDegreeOfParallelism = SweepsAtOnce },
                async (swarm, _) => await SweepAsync(swarm));
        }

        Interlocked.Increment(ref _sweeps);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period(), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepDueAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private TimeSpan Period()
    {
        TimeSpan[] periods =
        [
            statsOptions.Value.FlushInterval,
            trackerOptions.Value.PruneInterval,
            siteOptions.Value.UnknownKeyLifetime,
            siteOptions.Value.RefreshInterval,
        ];
        return periods.Min() / TicksPerPeriod;
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
    }
}
