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
/// <remarks>
/// The database away or failing over is a <see cref="SiteUnavailableException"/> (which the gateway answers 503), not
/// the store's own exception, which Orleans cannot always carry. Once a write is stored, a cache that then fails to
/// re-read it does not make the call fail: the directory no longer serves that user's old answer and reads it at its next
/// use, and a swarm re-reads soon (and the change notice reaches every silo, this one too).
/// </remarks>
[GrainType("siteadmin")]
[StatelessWorker]
internal sealed class SiteAdminGrain(ISiteStore store, UserDirectory users, LocalActivations activations) : Grain, ISiteAdminGrain
{
    public async ValueTask PutUser(Passkey passkey, UserProfile profile)
    {
        var replaced = await SiteAsync("the user's write", () => store.PutUserAsync(passkey, profile).AsTask());
        await ReloadUserAsync(passkey.ToUserKey());
        if (replaced is { } old)
        {
            await ReloadUserAsync(old);
        }
    }

    public async ValueTask<bool> RemoveUser(Passkey passkey)
    {
        var removed = await SiteAsync("the user's removal", () => store.RemoveUserAsync(passkey).AsTask());
        await ReloadUserAsync(passkey.ToUserKey());
        return removed;
    }

    public async ValueTask<UserView?> GetUser(Passkey passkey) => await SiteAsync<UserView?>("the user's read", async () =>
    {
        var profile = await store.FindUserAsync(passkey.ToUserKey());
        return profile is null ? null : new UserView(passkey, profile, await store.GetUserTrafficAsync(profile.UserId));
    });

    public async ValueTask PutTorrent(InfoHash infoHash, TorrentProfile profile)
    {
        var movedFrom = await SiteAsync("the torrent's write", () => store.PutTorrentAsync(infoHash, profile).AsTask());
        await RefreshIfActiveHereAsync(infoHash);
        if (movedFrom is { } old)
        {
            await RefreshIfActiveHereAsync(old);
        }
    }

    public async ValueTask<bool> RemoveTorrent(InfoHash infoHash)
    {
        var removed = await SiteAsync("the torrent's removal", () => store.RemoveTorrentAsync(infoHash).AsTask());
        await RefreshIfActiveHereAsync(infoHash);
        return removed;
    }

    public async ValueTask<TorrentView?> GetTorrent(InfoHash infoHash) => await SiteAsync<TorrentView?>("the torrent's read", async () =>
    {
        var profile = await store.FindTorrentAsync(infoHash);
        if (profile is null)
        {
            return null;
        }

        var traffic = await store.GetTorrentTrafficAsync(profile.TorrentId);
        return new TorrentView(infoHash, profile, traffic, await TorrentGrain(infoHash).Scrape());
    });

    private static async Task<T> SiteAsync<T>(string what, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception exception) when (SiteOutage.Is(exception))
        {
            throw SiteOutage.Unavailable(what, exception);
        }
    }

    private async Task ReloadUserAsync(UserKey key)
    {
        try
        {
            await users.ReloadAsync(key);
        }
        catch (Exception exception) when (SiteOutage.Is(exception))
        {
            // Logged by the directory, which stops serving the old answer.
        }
    }

    private async Task RefreshIfActiveHereAsync(InfoHash infoHash)
    {
        if (activations.Contains(infoHash))
        {
            try
            {
                await TorrentGrain(infoHash).Refresh();
            }
            catch (Exception exception) when (SiteOutage.Is(exception))
            {
                // The swarm logs its failed re-read and tries again soon.
            }
        }
    }

    private ITorrentGrain TorrentGrain(InfoHash infoHash) => GrainFactory.GetGrain<ITorrentGrain>(infoHash.ToGrainKey());
}
