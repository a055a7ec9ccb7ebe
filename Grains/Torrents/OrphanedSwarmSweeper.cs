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
    // Torrents read per query; a sweep reads pages until the table is done.
    private const int PageSize = 1000;

    // Swarms activated at once: each reads its peers from the database.
    private const int ActivationsAtOnce = 4;

    /// <summary>
    /// How long a stored peer must have been silent to count as orphaned: the peer timeout, plus the time a live swarm
    /// takes to prune it (a prune interval) and to write that (a flush interval), plus a minute for slow writes. So a
    /// live swarm's peers are almost never woken for, and waking a live swarm is a call that changes nothing.
    /// </summary>
    public static TimeSpan SilenceFor(TrackerOptions tracker, StatsOptions stats) =>
        tracker.PeerTimeout + tracker.PruneInterval + stats.FlushInterval + TimeSpan.FromMinutes(1);

    /// <summary>A sweep every quarter of the peer timeout: orphaned rows go within about two timeouts of their last announce.</summary>
    public static TimeSpan IntervalFor(TrackerOptions tracker) => tracker.PeerTimeout / 4;

    /// <summary>One pass over the stored peers: the swarms it activated and the rows of removed torrents it deleted.</summary>
    public async Task<OrphanedSwarms> SweepAsync(CancellationToken cancellationToken = default)
    {
        var silentBefore = time.GetUtcNow() - SilenceFor(trackerOptions.Value, statsOptions.Value);
        var (woken, deleted, after) = (0, 0, 0L);
        while (true)
        {
            var page = await store.FindSwarmsWithSilentPeersAsync(silentBefore, after, PageSize, cancellationToken);
            if (page.Count == 0)
            {
                break;
            }

            after = page[^1].TorrentId;
            var removed = page.Where(swarm => swarm.InfoHash is null).Select(swarm => swarm.TorrentId).ToList();
            if (removed.Count > 0)
            {
                deleted += await store.DeleteSilentPeersOfRemovedTorrentsAsync(removed, silentBefore, cancellationToken);
            }

            var registered = page.Where(swarm => swarm.InfoHash is not null).ToList();
            await Parallel.ForEachAsync(
                registered,
                new ParallelOptions { MaxDegreeOfParallelism = ActivationsAtOnce, CancellationToken = cancellationToken },
                async (swarm, _) => await WakeAsync(swarm));
            woken += registered.Count;
            if (page.Count < PageSize)
            {
                break;
            }
        }

        if (woken > 0 || deleted > 0)
        {
            Log.Swept(logger, woken, deleted);
        }

        return new OrphanedSwarms(woken, deleted);
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
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WakeAsync(SilentSwarm swarm)
    {
        try
        {
            // Any call activates the swarm, which restores its stored peers and schedules their prune; this one
            // counts as no use of the swarm, so it goes again once it is empty.
            await grains.GetGrain<ITorrentGrain>(swarm.InfoHash!.Value.ToGrainKey()).GetProfile();
        }
        catch (Exception exception)
        {
            Log.WakeFailed(logger, exception, swarm.TorrentId);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Stored peers silent past the peer timeout: activated {Swarms} swarms to prune theirs, deleted {Peers} of removed torrents")]
        public static partial void Swept(ILogger logger, int swarms, int peers);

        [LoggerMessage(2, LogLevel.Warning, "The sweep for stored peers no swarm prunes failed; the next one tries again")]
        public static partial void SweepFailed(ILogger logger, Exception exception);

        [LoggerMessage(3, LogLevel.Warning, "Activating the swarm of torrent {TorrentId} to prune its silent stored peers failed; the next sweep tries again")]
        public static partial void WakeFailed(ILogger logger, Exception exception, long torrentId);
    }
}

/// <summary>What one <see cref="OrphanedSwarmSweeper.SweepAsync"/> did: swarms activated, peers of removed torrents deleted.</summary>
internal readonly record struct OrphanedSwarms(int SwarmsWoken, int PeersDeleted);
