using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Users;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Admin;

/// <summary>
/// Site changes from the admin API: written to the store, then pushed into what caches them on this silo at once: its
/// user directory, and the torrent's swarm if it is active here. With the site on PostgreSQL every other silo hears of
/// the change from the database's change notice (the in-memory site has one silo). A swarm active nowhere is not
/// woken: it reads the site when it is next needed, so registering many torrents costs one write each.
/// </summary>
[GrainType("siteadmin")]
[StatelessWorker]
internal sealed class SiteAdminGrain(ISiteStore store, UserDirectory users, LocalActivations activations) : Grain, ISiteAdminGrain
{
    public async ValueTask PutUser(Passkey passkey, UserProfile profile)
    {
        var replaced = await store.PutUserAsync(passkey, profile);
        await users.ReloadAsync(passkey.ToUserKey());
        if (replaced is { } old)
        {
            await users.ReloadAsync(old);
        }
    }

    public async ValueTask<bool> RemoveUser(Passkey passkey)
    {
        var removed = await store.RemoveUserAsync(passkey);
        await users.ReloadAsync(passkey.ToUserKey());
        return removed;
    }

    public async ValueTask<UserView?> GetUser(Passkey passkey)
    {
        var profile = await store.FindUserAsync(passkey.ToUserKey());
        return profile is null ? null : new UserView(passkey, profile, await store.GetUserTrafficAsync(profile.UserId));
    }

    public async ValueTask PutTorrent(InfoHash infoHash, TorrentProfile profile)
    {
        await store.PutTorrentAsync(infoHash, profile);
        await RefreshIfActiveHereAsync(infoHash);
    }

    public async ValueTask<bool> RemoveTorrent(InfoHash infoHash)
    {
        var removed = await store.RemoveTorrentAsync(infoHash);
        await RefreshIfActiveHereAsync(infoHash);
        return removed;
    }

    public async ValueTask<TorrentView?> GetTorrent(InfoHash infoHash)
    {
        var profile = await store.FindTorrentAsync(infoHash);
        if (profile is null)
        {
            return null;
        }

        var traffic = await store.GetTorrentTrafficAsync(profile.TorrentId);
        return new TorrentView(infoHash, profile, traffic, await TorrentGrain(infoHash).Scrape());
    }

    private async Task RefreshIfActiveHereAsync(InfoHash infoHash)
    {
        if (activations.Contains(infoHash))
        {
            await TorrentGrain(infoHash).Refresh();
        }
    }

    private ITorrentGrain TorrentGrain(InfoHash infoHash) => GrainFactory.GetGrain<ITorrentGrain>(infoHash.ToGrainKey());
}
