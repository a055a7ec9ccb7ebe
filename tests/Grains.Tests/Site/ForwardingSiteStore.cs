using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;

namespace Chihaya.Orleans.Grains.Tests.Site;

/// <summary>A store that hands every call to a real one; test doubles override only the calls they tamper with.</summary>
internal abstract class ForwardingSiteStore(ISiteStore inner) : ISiteStore
{
    public virtual ValueTask<UserProfile?> FindUserAsync(string userKey, CancellationToken cancellationToken = default) => inner.FindUserAsync(userKey, cancellationToken);

    public virtual ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default) => inner.FindTorrentAsync(infoHash, cancellationToken);

    public virtual ValueTask<long> ApplyUsageAsync(UsageWrite write, CancellationToken cancellationToken = default) => inner.ApplyUsageAsync(write, cancellationToken);

    public ValueTask RetireSourceAsync(string source, CancellationToken cancellationToken = default) => inner.RetireSourceAsync(source, cancellationToken);

    public ValueTask<string?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default) => inner.PutUserAsync(passkey, profile, cancellationToken);

    public ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default) => inner.RemoveUserAsync(passkey, cancellationToken);

    public ValueTask PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default) => inner.PutTorrentAsync(infoHash, profile, cancellationToken);

    public ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default) => inner.RemoveTorrentAsync(infoHash, cancellationToken);

    public ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default) => inner.GetAllowedClientPrefixesAsync(cancellationToken);

    public ValueTask<UserTorrentUsage?> GetUserTorrentAsync(long userId, long torrentId, CancellationToken cancellationToken = default) => inner.GetUserTorrentAsync(userId, torrentId, cancellationToken);

    public ValueTask<Traffic> GetUserTrafficAsync(long userId, CancellationToken cancellationToken = default) => inner.GetUserTrafficAsync(userId, cancellationToken);

    public ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default) => inner.GetTorrentTrafficAsync(torrentId, cancellationToken);
}
