using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site's allowed clients by peer_id prefix, one copy per silo. Readers see an immutable snapshot that a
/// reload replaces whole, so the announce path takes no lock. No prefixes means every client is allowed.
/// </summary>
internal sealed class ClientAllowList(ISiteStore store)
{
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private byte[][] _prefixes = [];
    private int _requested;

    public bool IsAllowed(PeerId peerId)
    {
        var prefixes = _prefixes;
        if (prefixes.Length == 0)
        {
            return true;
        }

        Span<byte> id = stackalloc byte[Bytes20.Length];
        peerId.Value.CopyTo(id);
        foreach (var prefix in prefixes)
        {
            if (id.StartsWith(prefix))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Reads the list again. Reloads run one at a time, and one requested during another runs again after it,
    /// so the list in force is never older than the last notice (an older read cannot finish last).
    /// </summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _requested);
        await _reloading.WaitAsync(cancellationToken);
        try
        {
            while (Interlocked.Exchange(ref _requested, 0) > 0)
            {
                _prefixes = [.. await store.GetAllowedClientPrefixesAsync(cancellationToken)];
            }
        }
        finally
        {
            _reloading.Release();
        }
    }
}
