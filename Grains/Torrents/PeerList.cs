namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// A dense, unordered array of peers with O(1) swap-remove. Order carries no meaning, which is what
/// makes removal cheap and random windows a fair sample.
/// </summary>
internal sealed class PeerList
{
    private PeerEntry[] _items = [];

    public int Count { get; private set; }

    public ref PeerEntry this[int slot] => ref _items[slot];

    /// <summary>Appends a peer and returns its slot.</summary>
    public int Add(in PeerEntry entry)
    {
        if (Count == _items.Length)
        {
            // By half again rather than double: a swarm's memory is mostly this array, and it is filled 2/3 or more.
            // From one entry: most swarms hold a peer or two, and four would be 228 bytes a swarm for nothing.
            Array.Resize(ref _items, _items.Length < 4 ? Math.Max(1, _items.Length * 2) : _items.Length + (_items.Length / 2));
        }

        _items[Count] = entry;
        return Count++;
    }

    /// <summary>
    /// Removes the peer in <paramref name="slot"/> by moving the last peer into it. Returns true when a
    /// peer moved, so the caller can update that peer's slot in its index.
    /// </summary>
    public bool RemoveAt(int slot, out PeerEntry moved)
    {
        var last = --Count;
        moved = default;
        var didMove = slot != last;
        if (didMove)
        {
            _items[slot] = _items[last];
            moved = _items[slot];
        }

        _items[last] = default;
        ShrinkIfSparse();
        return didMove;
    }

    private void ShrinkIfSparse()
    {
        // Swarms shrink a lot after a torrent's first days; give the memory back, with hysteresis.
        if (_items.Length > 64 && Count < _items.Length / 4)
        {
            Array.Resize(ref _items, _items.Length / 2);
        }
    }
}
