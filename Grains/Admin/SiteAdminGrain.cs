using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Users;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Admin;

/// <summary>
/// Site changes from the admin API: written to the store, then pushed into what caches them at once. A user is
/// re-read by this silo's directory; with the site on PostgreSQL every other silo's directory hears of it from the
/// database's change notice (the in-memory site has one silo).
/// </summary>
[StatelessWorker]
internal sealed class SiteAdminGrain(ISiteStore store, UserDirectory users) : Grain, ISiteAdminGrain
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
        await TorrentGrain(infoHash).Refresh();
    }

    public async ValueTask<bool> RemoveTorrent(InfoHash infoHash)
    {
        var removed = await store.RemoveTorrentAsync(infoHash);
        await TorrentGrain(infoHash).Refresh();
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

    private ITorrentGrain TorrentGrain(InfoHash infoHash) => GrainFactory.GetGrain<ITorrentGrain>(infoHash.ToGrainKey());
}
