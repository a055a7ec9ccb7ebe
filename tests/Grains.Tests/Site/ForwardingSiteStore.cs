using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;

namespace Chihaya.Orleans.Grains.Tests.Site;

/// <summary>A store that hands every call to a real one; test doubles override only the calls they tamper with.</summary>
internal abstract class ForwardingSiteStore(ISiteStore inner) : ISiteStore
{
    public virtual ValueTask<UserProfile?> FindUserAsync(UserKey userKey, CancellationToken cancellationToken = default) => inner.FindUserAsync(userKey, cancellationToken);

    public virtual ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default) => inner.FindTorrentAsync(infoHash, cancellationToken);

    public virtual ValueTask<SwarmClaim> ClaimSwarmAsync(long torrentId, InfoHash? infoHash = null, CancellationToken cancellationToken = default) => inner.ClaimSwarmAsync(torrentId, infoHash, cancellationToken);

    public virtual ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default) => inner.ApplyFlushesAsync(flushes, cancellationToken);

    public ValueTask<IReadOnlyList<SilentSwarm>> FindSwarmsWithSilentPeersAsync(DateTimeOffset silentBefore, CancellationToken cancellationToken = default) =>
        inner.FindSwarmsWithSilentPeersAsync(silentBefore, cancellationToken);

    public ValueTask<int> DeleteSilentPeersOfRemovedTorrentsAsync(IReadOnlyList<long> torrentIds, DateTimeOffset silentBefore, CancellationToken cancellationToken = default) =>
        inner.DeleteSilentPeersOfRemovedTorrentsAsync(torrentIds, silentBefore, cancellationToken);

    public ValueTask<UserKey?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default) => inner.PutUserAsync(passkey, profile, cancellationToken);

    public ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default) => inner.RemoveUserAsync(passkey, cancellationToken);

    public ValueTask<InfoHash?> PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default) => inner.PutTorrentAsync(infoHash, profile, cancellationToken);

    public ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default) => inner.RemoveTorrentAsync(infoHash, cancellationToken);

    public virtual ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default) => inner.GetAllowedClientPrefixesAsync(cancellationToken);

    public ValueTask<UserTorrentUsage?> GetUserTorrentAsync(long userId, long torrentId, CancellationToken cancellationToken = default) => inner.GetUserTorrentAsync(userId, torrentId, cancellationToken);

    public ValueTask<Traffic> GetUserTrafficAsync(long userId, CancellationToken cancellationToken = default) => inner.GetUserTrafficAsync(userId, cancellationToken);

    public ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default) => inner.GetTorrentTrafficAsync(torrentId, cancellationToken);
}
