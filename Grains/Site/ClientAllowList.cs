using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site's allowed clients by peer_id prefix, one copy per silo. Readers see an immutable snapshot that a
/// reload replaces whole, so the announce path takes no lock. No prefixes means every client is allowed.
/// </summary>
internal sealed class ClientAllowList(ISiteStore store)
{
    private byte[][] _prefixes = [];

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

    public async Task ReloadAsync(CancellationToken cancellationToken = default) =>
        _prefixes = [.. await store.GetAllowedClientPrefixesAsync(cancellationToken)];
}
