using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// Finds stored peers that no swarm will prune and has them pruned. A live swarm removes its silent peers and their
/// rows itself; but when a silo dies, or a cluster stops for longer than the peer timeout, a swarm that nobody announces
/// to again is never activated, and its rows in <c>tracker_peers</c> (which the site reads as active peers) and its
/// counts in <c>torrents</c> would stay forever. A few times per peer timeout this looks for peers silent well past the
/// timeout and activates each one's swarm: the swarm restores them, gives them one more timeout to announce (as after
/// any restore), then prunes them and writes that, the torrent's counts included, as it always does. Rows of a torrent
/// the site has removed are deleted here instead, since no swarm can be found for them.
/// </summary>
internal sealed partial class OrphanedSwarmSweeper(
    ISiteStore store,
    IGrainFactory grains,
    IOptions<TrackerOptions> trackerOptions,
    IOptions<StatsOptions> statsOptions,
    TimeProvider time,
    ILogger<OrphanedSwarmSweeper> logger) : BackgroundService
{
    // Removed torrents whose rows one statement deletes.
    private const int DeleteChunk = 1000;

    // Swarms activated at once: each reads its peers from the database.
    private const int ActivationsAtOnce = 4;

    private long _timedSweeps;

    /// <summary>How many of the timer's sweeps have ended, done or failed (for tests that move the clock).</summary>
    public long CompletedTimedSweeps => Interlocked.Read(ref _timedSweeps);

    /// <summary>
    /// How long a stored peer must have been silent to count as orphaned: the peer timeout, plus the time a live swarm
    /// takes to prune it (a prune interval) and to write that (a flush interval), plus a minute for slow writes. So a
    /// live swarm's peers are almost never woken for, and waking a live swarm is a call that changes nothing.
    /// </summary>
    public static TimeSpan SilenceFor(TrackerOptions tracker, StatsOptions stats) =>
        tracker.PeerTimeout + tracker.PruneInterval + stats.FlushInterval + TimeSpan.FromMinutes(1);

    /// <summary>
    /// A sweep every quarter of the peer timeout: orphaned rows go at most about two and a half timeouts after their
    /// last announce (silent past <see cref="SilenceFor"/>, up to a sweep interval until found, a timeout of grace).
    /// </summary>
    public static TimeSpan IntervalFor(TrackerOptions tracker) => tracker.PeerTimeout / 4;

    /// <summary>One pass over the stored peers: the swarms it activated and the rows of removed torrents it deleted.</summary>
    public async Task<OrphanedSwarms> SweepAsync(CancellationToken cancellationToken = default)
    {
        var silentBefore = time.GetUtcNow() - SilenceFor(trackerOptions.Value, statsOptions.Value);
        var silent = await store.FindSwarmsWithSilentPeersAsync(silentBefore, cancellationToken);
        var removed = silent.Where(swarm => swarm.InfoHash is null).Select(swarm => swarm.TorrentId).ToList();
        var deleted = 0;
        foreach (var chunk in removed.Chunk(DeleteChunk))
        {
            deleted += await store.DeleteSilentPeersOfRemovedTorrentsAsync(chunk, silentBefore, cancellationToken);
        }

        var registered = silent.Where(swarm => swarm.InfoHash is not null).ToList();
        var woken = 0;
        await Parallel.ForEachAsync(
            registered,
            new ParallelOptions { MaxDegreeOfParallelism = ActivationsAtOnce, CancellationToken = cancellationToken },
            async (swarm, _) =>
            {
                if (await WakeAsync(swarm))
                {
                    Interlocked.Increment(ref woken);
                }
            });
        var notWoken = registered.Count - woken;
        if (woken > 0 || deleted > 0 || notWoken > 0)
        {
            Log.Swept(logger, woken, deleted, notWoken);
        }

        return new OrphanedSwarms(woken, deleted, notWoken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(IntervalFor(trackerOptions.Value), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync(stoppingToken);
                }
                catch (Exception exception)
                {
                    if (stoppingToken.IsCancellationRequested)
                    {
                        // Stopping: whatever the sweep was doing when it was cut short, the next start's sweeps redo it.
                        break;
                    }

                    // The rows stay until the next sweep finds them again.
                    Log.SweepFailed(logger, exception);
                }

                Interlocked.Increment(ref _timedSweeps);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>True once the swarm has answered, its stored peers restored; false if it could not (logged).</summary>
    private async Task<bool> WakeAsync(SilentSwarm swarm)
    {
        try
        {
            // Any call activates the swarm, which restores its stored peers and schedules their prune; this one
            // counts as no use of the swarm, so it goes again once it is empty.
            await grains.GetGrain<ITorrentGrain>(swarm.InfoHash!.Value.ToGrainKey()).GetProfile();
            return true;
        }
        catch (Exception exception)
        {
            Log.WakeFailed(logger, exception, swarm.TorrentId);
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Stored peers silent past the peer timeout: activated {Swarms} swarms to prune theirs, deleted {Peers} of removed torrents, could not activate {NotActivated} (the next sweep tries them again)")]
        public static partial void Swept(ILogger logger, int swarms, int peers, int notActivated);

        [LoggerMessage(2, LogLevel.Warning, "The sweep for stored peers no swarm prunes failed; the next one tries again")]
        public static partial void SweepFailed(ILogger logger, Exception exception);

        [LoggerMessage(3, LogLevel.Warning, "Activating the swarm of torrent {TorrentId} to prune its silent stored peers failed; the next sweep tries again")]
        public static partial void WakeFailed(ILogger logger, Exception exception, long torrentId);
    }
}

/// <summary>
/// What one <see cref="OrphanedSwarmSweeper.SweepAsync"/> did: swarms activated (their stored peers restored, to be
/// pruned), peers of removed torrents deleted, and swarms it could not activate (the site's database unreadable, say),
/// which the next sweep finds again.
/// </summary>
internal readonly record struct OrphanedSwarms(int SwarmsWoken, int PeersDeleted, int SwarmsNotWoken = 0);
