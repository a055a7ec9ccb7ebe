using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// Changes the site's users and torrents through the site store and tells the cached grains at once.
/// A stateless worker: any silo serves it, so a gateway in another process reaches the silo's store.
/// </summary>
[Alias("Chihaya.ISiteAdminGrain")]
public interface ISiteAdminGrain : IGrainWithIntegerKey
{
    /// <summary>Adds or replaces the user behind <paramref name="passkey"/>.</summary>
    [Alias("PutUser")]
    ValueTask PutUser(Passkey passkey, UserProfile profile);

    /// <summary>Removes the passkey; returns false when it was unknown.</summary>
    [Alias("RemoveUser")]
    ValueTask<bool> RemoveUser(Passkey passkey);

    /// <summary>The user and its written-back statistics, or null.</summary>
    [Alias("GetUser")]
    ValueTask<UserView?> GetUser(Passkey passkey);

    /// <summary>Registers or changes a torrent. The profile's snatch count is the site's and is not overwritten.</summary>
    [Alias("PutTorrent")]
    ValueTask PutTorrent(InfoHash infoHash, TorrentProfile profile);

    /// <summary>Unregisters a torrent; returns false when it was unknown.</summary>
    [Alias("RemoveTorrent")]
    ValueTask<bool> RemoveTorrent(InfoHash infoHash);

    /// <summary>The torrent, its written-back statistics and its live swarm counts, or null.</summary>
    [Alias("GetTorrent")]
    ValueTask<TorrentView?> GetTorrent(InfoHash infoHash);
}
