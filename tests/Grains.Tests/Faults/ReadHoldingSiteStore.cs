using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Site;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// The real store, except that the next read of a chosen user or torrent can be held: it reads the store at once,
/// then keeps the answer until the test releases it, as a slow database answer does. That lets a test make an
/// older read finish after a newer one, in exactly that order.
/// </summary>
internal sealed class ReadHoldingSiteStore(ISiteStore inner) : ForwardingSiteStore(inner)
{
    private readonly ConcurrentDictionary<string, HeldRead> _armed = new(StringComparer.Ordinal);

    /// <summary>Holds the next read of this user key or torrent grain key.</summary>
    public HeldRead HoldNextRead(string key) => _armed[key] = new HeldRead();

    public override async ValueTask<UserProfile?> FindUserAsync(UserKey userKey, CancellationToken cancellationToken = default)
    {
        var profile = await base.FindUserAsync(userKey, cancellationToken);
        await AnswerWhenReleased(userKey.ToHex());
        return profile;
    }

    public override async ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        var profile = await base.FindTorrentAsync(infoHash, cancellationToken);
        await AnswerWhenReleased(infoHash.ToGrainKey());
        return profile;
    }

    private Task AnswerWhenReleased(string key) => _armed.TryRemove(key, out var held) ? held.WaitForReleaseAsync() : Task.CompletedTask;
}

/// <summary>One held read: <see cref="Read"/> completes once it has read the store, and it answers on <see cref="Release"/>.</summary>
internal sealed class HeldRead
{
    private readonly TaskCompletionSource _read = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Read => _read.Task;

    public void Release() => _released.TrySetResult();

    public Task WaitForReleaseAsync()
    {
        _read.TrySetResult();
        return _released.Task;
    }
}
