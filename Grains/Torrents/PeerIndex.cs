namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// The swarm's index from a peer (peer id and user) to its code: the slot in the seeders list, or the complement of
/// the slot in the leechers list. An open-addressing table of codes alone, at most half full (4 bytes a slot, about
/// 12 a peer), where a dictionary of keys cost about 70 bytes a peer; a key is read from the entry its code points at.
/// Linear probing with backward-shift removal, so there are no tombstones. The table lives outside the GC heap, as the
/// peers do (<see cref="UnmanagedArray{T}"/>). Every change must be made while the
/// entries it reads are in place: <see cref="Remove"/> before the entry leaves its list, <see cref="Move"/> after.
/// </summary>
internal sealed class PeerIndex(PeerList seeders, PeerList leechers)
{
    // No real code is this: a leecher's code is the complement of its slot, so it would take 2^31 leechers.
    private const int Empty = int.MinValue;
    private const int SmallestTable = 4;

    // Never copied nor made readonly (a copy, even the compiler's defensive one, would share the block); freed by the
    // swarm that owns the index (Swarm.Release, or its finalizer).
    private UnmanagedArray<int> _codes;

    public int Count { get; private set; }

    public bool TryGetValue(in PeerKey key, out int code)
    {
        if (Count > 0)
        {
            var mask = _codes.Length - 1;
            for (var at = Home(key, mask); _codes[at] != Empty; at = (at + 1) & mask)
            {
                if (Matches(_codes[at], key))
                {
                    code = _codes[at];
                    return true;
                }
            }
        }

        code = 0;
        return false;
    }

    /// <summary>Indexes a peer that is not indexed yet and is already in its list at <paramref name="code"/>.</summary>
    public void Add(in PeerKey key, int code)
    {
        if ((Count + 1) * 2 > _codes.Length)
        {
            Rebuild(Math.Max(SmallestTable, _codes.Length * 2));
        }

        Place(in _codes, Home(key, _codes.Length - 1), code);
        Count++;
    }

    /// <summary>The peer indexed at <paramref name="from"/> (now in its list at <paramref name="to"/>) has moved there.</summary>
    public void Move(in PeerKey key, int from, int to) => _codes[Find(key, from)] = to;

    /// <summary>Removes the peer indexed at <paramref name="code"/>, which must still be in its list.</summary>
    public void Remove(in PeerKey key, int code)
    {
        var mask = _codes.Length - 1;
        var hole = Find(key, code);
        // Backward shift: pull each later member of the probe run into the hole if the hole lies between its home
        // and where it sits, so every remaining code is still reached from its home without passing an empty slot.
        for (var at = (hole + 1) & mask; _codes[at] != Empty; at = (at + 1) & mask)
        {
            var home = Home(KeyOf(_codes[at]), mask);
            if (((at - home) & mask) >= ((at - hole) & mask))
            {
                _codes[hole] = _codes[at];
                hole = at;
            }
        }

        _codes[hole] = Empty;
        Count--;
        if (_codes.Length > SmallestTable * 2 && Count * 8 < _codes.Length)
        {
            // Swarms shrink a lot after a torrent's first days; give the memory back, with hysteresis.
            Rebuild(_codes.Length / 2);
        }
    }

    /// <summary>Every indexed code points at an entry that is found under its own key, once each (for tests).</summary>
    public bool IsConsistent()
    {
        var seen = 0;
        for (var at = 0; at < _codes.Length; at++)
        {
            var code = _codes[at];
            if (code == Empty)
            {
                continue;
            }

            var slot = code >= 0 ? code : ~code;
            if (slot >= (code >= 0 ? seeders : leechers).Count || !TryGetValue(KeyOf(code), out var found) || found != code)
            {
                return false;
            }

            seen++;
        }

        return seen == Count;
    }

    private static int Home(in PeerKey key, int mask) => key.GetHashCode() & mask;

    /// <summary>Gives the memory back; the index is empty afterwards.</summary>
    public void Release()
    {
        _codes.Release();
        Count = 0;
    }

    private static void Place(in UnmanagedArray<int> codes, int home, int code)
    {
        var mask = codes.Length - 1;
        var at = home;
        while (codes[at] != Empty)
        {
            at = (at + 1) & mask;
        }

        codes[at] = code;
    }

    private int Find(in PeerKey key, int code)
    {
        var mask = _codes.Length - 1;
        var at = Home(key, mask);
        while (_codes[at] != code)
        {
            at = (at + 1) & mask;
        }

        return at;
    }

    private void Rebuild(int length)
    {
        var codes = default(UnmanagedArray<int>);
        codes.Resize(length);
        try
        {
            codes.Fill(Empty);
            for (var at = 0; at < _codes.Length; at++)
            {
                var code = _codes[at];
                if (code != Empty)
                {
                    Place(in codes, Home(KeyOf(code), length - 1), code);
                }
            }
        }
        catch
        {
            codes.Release();
            throw;
        }

        _codes.Release();
        _codes = codes;
    }

    private bool Matches(int code, in PeerKey key)
    {
        ref var entry = ref Entry(code);
        return entry.PeerId == key.PeerId && entry.UserId == key.UserId;
    }

    private PeerKey KeyOf(int code)
    {
        ref var entry = ref Entry(code);
        return new PeerKey(entry.PeerId, entry.UserId);
    }

    private ref PeerEntry Entry(int code) => ref code >= 0 ? ref seeders[code] : ref leechers[~code];
}
