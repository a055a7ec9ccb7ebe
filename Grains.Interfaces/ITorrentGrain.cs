using Chihaya.Orleans.Grains.Interfaces.Messages;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>One torrent's swarm. Keyed by the info hash as 40 lower-case hex characters.</summary>
[Alias("Chihaya.ITorrentGrain")]
public interface ITorrentGrain : IGrainWithStringKey
{
    /// <summary>
    /// Updates the announcing peer, accounts its traffic and returns other peers. Interleaved: an announce whose user
    /// this silo must first read from the site waits for that read without holding the swarm's other announces back
    /// (the swarm itself is only looked at and changed in the one turn after the read, with no await).
    /// </summary>
    [Alias("Announce")]
    [AlwaysInterleave]
    ValueTask<AnnounceResult> Announce(AnnounceCommand command);

    /// <summary>
    /// The torrent's seeders, leechers and snatches. Interleaved: a swarm not read yet answers each scrape within its
    /// first read's wait, not one after another; once read, a scrape is one turn with no await.
    /// </summary>
    [Alias("Scrape")]
    [AlwaysInterleave]
    ValueTask<TorrentCounts> Scrape();

    /// <summary>The site's torrent as this swarm enforces it now (null: not registered): for diagnostics and tests, since the admin API shows the stored profile.</summary>
    [Alias("GetProfile")]
    [AlwaysInterleave]
    ValueTask<TorrentProfile?> GetProfile();

    /// <summary>Reloads the site's profile of the torrent (called after the site changed it); never holds announces back.</summary>
    [Alias("Refresh")]
    [AlwaysInterleave]
    ValueTask Refresh();

    /// <summary>
    /// The swarm's housekeeping that is due (writing what changed, pruning silent peers, re-reading the torrent),
    /// called by its silo's sweeper instead of timers in every swarm. Interleaved: it never holds announces back
    /// while it waits on the database.
    /// </summary>
    [Alias("Sweep")]
    [AlwaysInterleave]
    ValueTask Sweep();

    /// <summary>Writes changed peers and their statistics to the site now instead of when the next sweep finds them due.</summary>
    [Alias("FlushUsage")]
    ValueTask FlushUsage();
}
