using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// The real store with faults on demand: a batch write can fail before it reaches the database, or reach it
/// and then fail (the answer lost on the way back, the case that tempts a naive retry to count twice).
/// </summary>
internal sealed class FaultInjectingSiteStore(ISiteStore inner) : ISiteStore
{
    public enum Fault
    {
        None,
        FailBeforeApplying,
        FailAfterApplying,
    }

    /// <summary>What the next statistics write does; it resets to <see cref="Fault.None"/> once used.</summary>
    public Fault NextWrite { get; set; }

    public int FaultsInjected { get; private set; }

    /// <summary>How many times a user or torrent was read from the database.</summary>
    public int Reads => _reads;

    private int _reads;

    public async ValueTask ApplyUsageAsync(UsageWrite write, CancellationToken cancellationToken = default)
    {
        var fault = NextWrite;
        NextWrite = Fault.None;
        if (fault == Fault.FailBeforeApplying)
        {
            FaultsInjected++;
            throw new TimeoutException("injected: the database did not answer");
        }

        await inner.ApplyUsageAsync(write, cancellationToken);
        if (fault == Fault.FailAfterApplying)
        {
            FaultsInjected++;
            throw new TimeoutException("injected: the answer was lost after the batch was applied");
        }
    }

    public ValueTask<UserProfile?> FindUserAsync(string userKey, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        return inner.FindUserAsync(userKey, cancellationToken);
    }

    public ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        return inner.FindTorrentAsync(infoHash, cancellationToken);
    }

    public ValueTask<string?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default) => inner.PutUserAsync(passkey, profile, cancellationToken);

    public ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default) => inner.RemoveUserAsync(passkey, cancellationToken);

    public ValueTask PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default) => inner.PutTorrentAsync(infoHash, profile, cancellationToken);

    public ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default) => inner.RemoveTorrentAsync(infoHash, cancellationToken);

    public ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default) => inner.GetAllowedClientPrefixesAsync(cancellationToken);

    public ValueTask<UserTorrentUsage?> GetUserTorrentAsync(long userId, long torrentId, CancellationToken cancellationToken = default) => inner.GetUserTorrentAsync(userId, torrentId, cancellationToken);

    public ValueTask<Traffic> GetUserTrafficAsync(long userId, CancellationToken cancellationToken = default) => inner.GetUserTrafficAsync(userId, cancellationToken);

    public ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default) => inner.GetTorrentTrafficAsync(torrentId, cancellationToken);
}
