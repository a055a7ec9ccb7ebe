using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site's users and torrents, and the statistics written back to it. The only way the tracker
/// loads a user or a torrent: in memory for the embedded tracker, the site's database in production.
/// </summary>
internal interface ISiteStore
{
    /// <summary>The user whose passkey has this digest (<see cref="Passkey.ToUserKey"/>).</summary>
    ValueTask<UserProfile?> FindUserAsync(UserKey userKey, CancellationToken cancellationToken = default);

    /// <summary>The torrent with the snatches the site has counted so far.</summary>
    ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes the calling activation the only one that may write the swarm of <paramref name="torrentId"/>: takes a
    /// new epoch, higher than any before, which fences every earlier claim's flushes from then on, and returns the
    /// peers as the last applied flush left them. A flush of an older claim still running finishes first, and its
    /// peers are among those returned. The swarm's <paramref name="infoHash"/> tells which stored peers are its own when
    /// the site re-keyed the torrent: those of an older claim of the same info hash under another torrent id (the hash
    /// moved to a new id, or parked) are taken over, and those of this id's claim for another info hash (the id given a
    /// new hash) are parked under a claim of their own that keeps the old hash. Null (tests of a store alone): the id's
    /// peers, as they are.
    /// </summary>
    ValueTask<SwarmClaim> ClaimSwarmAsync(long torrentId, InfoHash? infoHash = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies each flush whose swarm is still claimed under its epoch, all in one transaction: its peers, and the
    /// user, torrent and history statistics credited from them. A flush with a sequence applied before changes
    /// nothing and is answered as applied; one of an older epoch changes nothing and is answered as fenced. A snatch
    /// is counted when a user's history row on a torrent first gets a completion time, so once per user and
    /// torrent whatever the epoch or retry. The results are in the order of the flushes.
    /// </summary>
    ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every torrent holding a stored peer silent since before <paramref name="silentBefore"/> (or a departure taken
    /// before it), in torrent id order: each with its info hash while the site has the torrent, none once it has
    /// removed it. A live swarm prunes such peers itself, so these are mostly rows an activation lost with its silo left
    /// behind. One read of the peers and the departures, whatever the number found.
    /// </summary>
    ValueTask<IReadOnlyList<SilentSwarm>> FindSwarmsWithSilentPeersAsync(DateTimeOffset silentBefore, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the stored peers silent since before <paramref name="silentBefore"/>, and the departures taken before it,
    /// of those of <paramref name="torrentIds"/> the site has removed: no swarm prunes them, since a swarm is found by
    /// its torrent's info hash. Returns how many peers went.
    /// </summary>
    ValueTask<int> DeleteSilentPeersOfRemovedTorrentsAsync(IReadOnlyList<long> torrentIds, DateTimeOffset silentBefore, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds or changes the user <see cref="UserProfile.UserId"/> with this passkey. A user has one passkey: a
    /// new passkey for a known id replaces the old one (a passkey reset), whose user key is returned. A passkey of
    /// another id throws <see cref="SiteConflictException"/>. Personal freeleech is the site's and stays as it is.
    /// </summary>
    ValueTask<UserKey?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default);

    ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers or changes a torrent; its statistics (snatches included) are kept. An info hash of another id throws
    /// <see cref="SiteConflictException"/>. A new info hash for a known id replaces the old one (one id is one swarm),
    /// which is returned, so the old hash's swarm can be told it is no longer registered.
    /// </summary>
    ValueTask<InfoHash?> PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default);

    ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default);

    /// <summary>The peer_id prefixes of clients allowed to announce; empty allows every client.</summary>
    ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default);

    /// <summary>The user's statistics as written back so far.</summary>
    ValueTask<Traffic> GetUserTrafficAsync(long userId, CancellationToken cancellationToken = default);

    /// <summary>A user's history on a torrent as written back so far, or null.</summary>
    ValueTask<UserTorrentUsage?> GetUserTorrentAsync(long userId, long torrentId, CancellationToken cancellationToken = default);

    /// <summary>The torrent's traffic as written back so far.</summary>
    ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default);
}

/// <summary>A torrent with silent stored peers: its info hash, or null when the site no longer has the torrent.</summary>
internal readonly record struct SilentSwarm(long TorrentId, InfoHash? InfoHash);
