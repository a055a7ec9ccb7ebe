using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Site;

namespace Chihaya.Orleans.Grains.Tests.Faults;

/// <summary>
/// The real store, except that the next read of a chosen user or torrent, or the next write's answer, can be held: it
/// reads or writes the store at once, then keeps the answer until the test releases it, as a slow database answer does. That lets a test make an
/// older read finish after a newer one, in exactly that order.
/// </summary>
internal sealed class ReadHoldingSiteStore(ISiteStore inner) : ForwardingSiteStore(inner)
{
    private readonly ConcurrentDictionary<string, HeldRead> _armed = new(StringComparer.Ordinal);

    private HeldRead? _nextWrite;

    /// <summary>Holds the next read of this user key or torrent grain key.</summary>
    public HeldRead HoldNextRead(string key) => _armed[key] = new HeldRead();

    /// <summary>Holds the answer of the next statistics write: it is applied at once, and answered on release.</summary>
    public HeldRead HoldNextWriteAnswer() => _nextWrite = new HeldRead();

    public override async ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default)
    {
        var results = await base.ApplyFlushesAsync(flushes, cancellationToken);
        if (Interlocked.Exchange(ref _nextWrite, null) is { } held)
        {
            await held.WaitForReleaseAsync();
        }

        return results;
    }

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
