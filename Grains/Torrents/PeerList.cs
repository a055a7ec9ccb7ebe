namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// A dense, unordered array of peers with O(1) swap-remove. Order carries no meaning, which is what
/// makes removal cheap and random windows a fair sample. The peers live outside the GC heap (<see cref="UnmanagedArray{T}"/>).
/// </summary>
internal sealed class PeerList
{
    // Below this length a sparse list is not shrunk: the saving is a few entries.
    private const int SmallestShrunk = 16;

    // Never copied nor made readonly (a copy, even the compiler's defensive one, would share the block); freed by the
    // swarm that owns the list (Swarm.Release, or its finalizer).
    private UnmanagedArray<PeerEntry> _items;

    public int Count { get; private set; }

    /// <summary>The peer in <paramref name="slot"/>, which must be below <see cref="Count"/>.</summary>
    public ref PeerEntry this[int slot]
    {
        get
        {
            if ((uint)slot >= (uint)Count)
            {
                ThrowNoPeer(slot);
            }

            return ref _items[slot];
        }
    }

    /// <summary>Appends a peer and returns its slot.</summary>
    public int Add(PeerEntry entry)
    {
        if (Count == _items.Length)
        {
            // By an eighth: a swarm's memory is mostly this array, and a realloc of it is cheap (in place when it can
            // be; no copy left behind), so it is kept nearly full. From one entry: most swarms hold a peer or two.
            _items.Resize(_items.Length + Math.Max(1, _items.Length / 8));
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
        if ((uint)slot >= (uint)Count)
        {
            ThrowNoPeer(slot);
        }

        var last = --Count;
        moved = default;
        var didMove = slot != last;
        if (didMove)
        {
            _items[slot] = _items[last];
            moved = _items[slot];
        }

        _items[last] = default;
        if (_items.Length > SmallestShrunk && Count < _items.Length / 2)
        {
            // Swarms shrink a lot after a torrent's first days; give the memory back, with hysteresis (growing again
            // takes an eighth more, shrinking waits for half empty). Best effort: the peer has moved already, and a
            // failed shrink loses nothing.
            try
            {
                _items.Resize(Count + (Count / 8));
            }
            catch (OutOfMemoryException)
            {
            }
        }

        return didMove;
    }

    /// <summary>Gives the memory back; the list is empty afterwards.</summary>
    public void Release()
    {
        _items.Release();
        Count = 0;
    }

    private static void ThrowNoPeer(int slot) => throw new ArgumentOutOfRangeException(nameof(slot), slot, "no peer in this slot");
}
