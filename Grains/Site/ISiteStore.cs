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
    ValueTask<UserProfile?> FindUserAsync(string userKey, CancellationToken cancellationToken = default);

    /// <summary>The torrent with the snatches the site has counted so far.</summary>
    ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a batch of statistics, unless a batch with the same source and sequence was applied before. A snatch is
    /// counted when a user's history row on a torrent first gets a completion time, so once per user and torrent
    /// whichever batch, source or retry brings it (<see cref="TorrentUsage.Snatches"/> is not what counts).
    /// Returns the snatches this call counted.
    /// </summary>
    ValueTask<long> ApplyUsageAsync(UsageWrite write, CancellationToken cancellationToken = default);

    /// <summary>
    /// Says that <paramref name="source"/> will send no more batches: its owner has confirmed every batch of it,
    /// keeps none in storage and will write under a new source. The store forgets the source's last sequence once
    /// it has been retired for <see cref="RetiredSources.Grace"/>, and each call forgets a few sources that are due.
    /// A source that was never applied, or is retired again, changes nothing.
    /// </summary>
    ValueTask RetireSourceAsync(string source, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds or changes the user <see cref="UserProfile.UserId"/> with this passkey. A user has one passkey: a
    /// new passkey for a known id replaces the old one (a passkey reset), whose user key is returned.
    /// </summary>
    ValueTask<string?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default);

    ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default);

    /// <summary>Registers or changes a torrent; its statistics (snatches included) are kept.</summary>
    ValueTask PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default);

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
