using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One torrent's peers: seeders and leechers in two dense lists, indexed by peer id. Plain C# with no
/// Orleans types, so it is tested without a cluster and benchmarked without a network.
/// </summary>
internal sealed class Swarm
{
    private readonly Random _random;
    private readonly PeerList _seeders = new();
    private readonly PeerList _leechers = new();

    // Each peer's code: the slot in _seeders, or the bitwise complement of the slot in _leechers.
    private readonly PeerIndex _slots;

    // Users whose snatch this swarm has counted since it came into memory: a snatch counts once per user and
    // torrent, however many peer ids the user completes with. The lasting record is the site's (the history row's
    // completed_at), which also refuses a snatch that a restarted swarm, having forgotten the user, counts again.
    // These four are null while empty, as they are in most swarms most of the time: a swarm's memory is mostly its peers.
    private HashSet<long>? _snatchers;

    // What the next write to the site must store: peers added or changed since the last cut carry IsChanged (counted
    // here), and the keys of peers that left their list since (stopped, silent, moved between lists, or a departure
    // forgotten) are in _removed; a key that is back in the swarm by the cut is stored as present.
    private int _changedPeers;
    private HashSet<PeerKey>? _removed;

    // Peers that stopped, with when the gateway received their goodbye: a late try of an earlier announce must not
    // bring them back with old totals (a ghost, whose traffic since would be credited again if it rejoined).
    private Dictionary<PeerKey, DepartedPeer>? _departed;

    // Peers that joined again since the last cut while their departure was remembered: the stored departure must go.
    private HashSet<PeerKey>? _rejoined;

    // The lists and the index hold native memory since the swarm's first peer (UnmanagedArray): until then, and again
    // after Release, there is nothing for the finalizer to free, and a swarm that never holds a peer (an unknown
    // info hash's) costs the finalizer nothing.
    private bool _holdsNativeMemory;

    public Swarm(Random random)
    {
        _random = random;
        _slots = new PeerIndex(_seeders, _leechers);
        GC.SuppressFinalize(this);
    }

    ~Swarm() => ReleaseMemory();

    public int Seeders => _seeders.Count;

    public int Leechers => _leechers.Count;

    public int Count => _slots.Count;

    /// <summary>True while the swarm remembers peers that left (each is forgotten after a while).</summary>
    public bool HasDepartures => _departed is not null;

    private HashSet<PeerKey> Removed => _removed ??= [];

    /// <summary>
    /// Applies one announce: picks peers for the reply first (so the announcer never gets itself, and
    /// a leecher that just finished is answered as a seeder), then updates the announcer's entry and
    /// works out the traffic to credit.
    /// </summary>
    /// <param name="announce">The peer's report.</param>
    /// <param name="now">Seconds since the Unix epoch.</param>
    /// <param name="multipliers">User × torrent factors for crediting this announce.</param>
    /// <param name="selection">Receives the reply's peers; already reset to the number wanted.</param>
    public AnnounceCredit Announce(in PeerAnnounce announce, long now, Multipliers multipliers, PeerSelection selection)
    {
        var key = new PeerKey(announce.PeerId, announce.UserId);
        var known = _slots.TryGetValue(key, out var code);
        if (known ? IsLate(announce, EntryAt(code)) : _departed is not null && _departed.TryGetValue(key, out var departure) && announce.ReceivedAt < departure.ReceivedAt)
        {
            // A late try of an announce the client has long resent: applied, it would take the totals back (read as a
            // restart), remove a peer that is still there, or bring back one that left, and traffic since would be
            // credited again.
            Select(announce.WantsLeechersOnly, known ? code : null, selection);
            return default;
        }

        if (announce.Event == AnnounceEvent.Stopped)
        {
            return known ? Leave(code, announce, now, multipliers) : default;
        }

        Select(announce.WantsLeechersOnly, known ? code : (int?)null, selection);
        return known ? Update(code, announce, now, multipliers) : Join(announce, now);
    }

    /// <summary>
    /// Forgets the departures of peers that left before <paramref name="cutoff"/> (seconds since the Unix epoch): no try
    /// of their announces can still be on its way (announces are refused once older than a gateway would wait).
    /// </summary>
    public void ForgetDepartures(long cutoff)
    {
        if (_departed is null)
        {
            return;
        }

        foreach (var (key, departure) in _departed)
        {
            if (departure.DepartedAt < cutoff)
            {
                _departed.Remove(key);
                Removed.Add(key);
            }
        }

        if (_departed.Count == 0)
        {
            _departed = null;
        }
    }

    /// <summary>Removes every peer whose last announce is older than <paramref name="cutoff"/>; returns how many.</summary>
    public int RemoveSilentPeers(long cutoff) => RemoveSilent(_seeders, true, cutoff) + RemoveSilent(_leechers, false, cutoff);

    /// <summary>
    /// The last announce of the most silent peer and the oldest remembered departure (seconds since the Unix epoch;
    /// <see cref="long.MaxValue"/> when there is none): when the next prune has work. One pass over the swarm.
    /// </summary>
    public (long OldestLastSeen, long OldestDeparture) Oldest()
    {
        var lastSeen = long.MaxValue;
        for (var slot = 0; slot < _seeders.Count; slot++)
        {
            lastSeen = Math.Min(lastSeen, _seeders[slot].LastSeen);
        }

        for (var slot = 0; slot < _leechers.Count; slot++)
        {
            lastSeen = Math.Min(lastSeen, _leechers[slot].LastSeen);
        }

        var departure = long.MaxValue;
        if (_departed is not null)
        {
            foreach (var (_, departed) in _departed)
            {
                departure = Math.Min(departure, departed.DepartedAt);
            }
        }

        return (lastSeen, departure);
    }

    /// <summary>True when a peer was added, changed or removed since the last <see cref="CutChanges"/>.</summary>
    public bool HasChanges => _changedPeers > 0 || _removed is { Count: > 0 };

    /// <summary>
    /// The peers changed since the last cut, as they are now (to store), the ones that left since (to remember for a
    /// while) and the departures forgotten since (to delete). The stored baselines must move with the traffic credited
    /// from them, so a cut is taken together with the ledger's.
    /// </summary>
    public PeerChanges CutChanges()
    {
        var present = new List<StoredPeer>(_changedPeers);
        var departed = new List<DepartedPeer>();
        var forgotten = new List<PeerKey>();
        if (_changedPeers > 0)
        {
            // One pass over the peers (a few hundred microseconds for 100,000) instead of a set of keys kept beside them.
            CutChanged(_seeders, true, present, forgotten);
            CutChanged(_leechers, false, present, forgotten);
            _changedPeers = 0;
        }

        foreach (var key in _removed ?? [])
        {
            if (_slots.TryGetValue(key, out _))
            {
                // Back in the swarm (joined again, or moved between seeders and leechers): stored as present above.
                continue;
            }

            if (_departed is not null && _departed.TryGetValue(key, out var departure))
            {
                departed.Add(departure);
            }
            else
            {
                forgotten.Add(key);
            }
        }

        // Cleared, not dropped, for the reason the ledger's big sets are (SwarmLedger).
        _removed?.Clear();
        _rejoined?.Clear();
        return new PeerChanges(present, departed, forgotten);
    }

    private void CutChanged(PeerList list, bool seeders, List<StoredPeer> present, List<PeerKey> forgotten)
    {
        for (var slot = 0; slot < list.Count; slot++)
        {
            ref var entry = ref list[slot];
            if (!entry.IsChanged)
            {
                continue;
            }

            entry.IsChanged = false;
            present.Add(new StoredPeer(entry, seeders));
            var key = new PeerKey(entry.PeerId, entry.UserId);
            if (_rejoined?.Contains(key) == true)
            {
                forgotten.Add(key);
            }
        }
    }

    /// <summary>Adds stored peers and departures, e.g. when a swarm comes back on another silo. They count as unchanged.</summary>
    public void Restore(IEnumerable<StoredPeer> peers, IEnumerable<DepartedPeer> departures)
    {
        foreach (var (peer, seeder) in peers)
        {
            Insert(peer, seeder, changed: false);
            if (peer.HasSnatched)
            {
                (_snatchers ??= []).Add(peer.UserId);
            }
        }

        foreach (var departure in departures)
        {
            (_departed ??= [])[departure.Key] = departure;
        }

        _removed = null;
    }

    /// <summary>
    /// Gives the peers' memory back when the activation ends (it lives outside the GC heap); the swarm is empty
    /// afterwards. Whatever was not written by then is lost as it would be with the activation.
    /// </summary>
    public void Release()
    {
        ReleaseMemory();
        _changedPeers = 0;
        if (_holdsNativeMemory)
        {
            _holdsNativeMemory = false;
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>True when the user's peer is in the swarm (for tests and diagnostics).</summary>
    public bool Contains(PeerId peerId, long userId) => _slots.TryGetValue(new PeerKey(peerId, userId), out _);

    /// <summary>Checks that every index entry points at the peer it names and every peer is indexed once (for tests).</summary>
    public bool IsConsistent()
    {
        return _slots.IsConsistent() && _slots.Count == _seeders.Count + _leechers.Count;
    }

    /// <summary>
    /// Received before the peer's last applied announce: a try held up (a silo cut off, a gateway's retries) and
    /// delivered after the client had announced again. Applied, it could take the totals back, remove a peer that is
    /// still there, or, when the client restarted its totals meanwhile (a goodbye, then a new start), credit the old
    /// session's traffic a second time. Skipping it loses nothing while the client's totals run on: they are
    /// cumulative, so the peer's next announce credits what this one reported. Only after a restart of the totals is
    /// what it reported beyond the last applied announce lost, where applying it credited the whole old session again.
    /// (Gateways' clocks should differ by milliseconds, and a peer's announces come minutes apart: a gateway's clock
    /// further ahead than the announce interval would make other gateways' announces of its peers look late.)
    /// </summary>
    private static bool IsLate(in PeerAnnounce announce, in PeerEntry entry) => announce.ReceivedAt < entry.ReceivedAt;

    private AnnounceCredit Join(in PeerAnnounce announce, long now)
    {
        // A peer's first announce only sets its baseline: totals from before the tracker saw it are unknowable.
        var completed = announce.Event == AnnounceEvent.Completed && announce.IsSeeder;
        var snatched = completed && (_snatchers ??= []).Add(announce.UserId);
        var key = new PeerKey(announce.PeerId, announce.UserId);
        // Also a peer whose departure was forgotten, or that was pruned, since the last cut: the cut would skip its key
        // (the peer is back), and its departure row would outlive it.
        if (_departed?.Remove(key) == true || _removed?.Contains(key) == true)
        {
            (_rejoined ??= []).Add(key);
        }

        var entry = new PeerEntry
        {
            PeerId = announce.PeerId,
            Endpoint = announce.Endpoint,
            Uploaded = announce.Uploaded,
            Downloaded = announce.Downloaded,
            UserId = announce.UserId,
            LastSeen = now,
            ReceivedAt = announce.ReceivedAt,
            HasSnatched = completed,
        };
        Insert(entry, announce.IsSeeder, changed: true);
        return new AnnounceCredit(default, snatched);
    }

    private AnnounceCredit Update(int code, in PeerAnnounce announce, long now, Multipliers multipliers)
    {
        ref var entry = ref EntryAt(code);
        if (!entry.IsChanged)
        {
            entry.IsChanged = true;
            _changedPeers++;
        }

        var wasSeeder = code >= 0;
        var traffic = TrafficCredit.Between(entry.Uploaded, entry.Downloaded, announce.Uploaded, announce.Downloaded, multipliers);
        // Seeding time counts only intervals the peer was a seeder at both ends of.
        var seeding = wasSeeder && announce.IsSeeder ? Math.Max(0, now - entry.LastSeen) : 0;
        var finished = announce.IsSeeder && (!wasSeeder || announce.Event == AnnounceEvent.Completed);
        var snatched = finished && !entry.HasSnatched && (_snatchers ??= []).Add(announce.UserId);
        entry.Uploaded = announce.Uploaded;
        entry.Downloaded = announce.Downloaded;
        entry.Endpoint = announce.Endpoint;
        entry.LastSeen = now;
        entry.ReceivedAt = announce.ReceivedAt;
        entry.HasSnatched |= finished;

        if (wasSeeder != announce.IsSeeder)
        {
            var moved = entry;
            Remove(code);
            Insert(moved, announce.IsSeeder, changed: true);
        }

        return new AnnounceCredit(traffic, snatched, seeding);
    }

    private AnnounceCredit Leave(int code, in PeerAnnounce announce, long now, Multipliers multipliers)
    {
        ref var entry = ref EntryAt(code);
        var traffic = TrafficCredit.Between(entry.Uploaded, entry.Downloaded, announce.Uploaded, announce.Downloaded, multipliers);
        var snatched = code < 0 && announce.IsSeeder && !entry.HasSnatched && (_snatchers ??= []).Add(announce.UserId);
        var seeding = code >= 0 ? Math.Max(0, now - entry.LastSeen) : 0;
        var key = new PeerKey(announce.PeerId, announce.UserId);
        (_departed ??= [])[key] = new DepartedPeer(key, announce.ReceivedAt, now);
        Remove(code);
        return new AnnounceCredit(traffic, snatched, seeding);
    }

    private void Select(bool leechersOnly, int? ownCode, PeerSelection selection)
    {
        // Seeders (and partial seeds) only want leechers; leechers want seeders first, then other leechers.
        if (!leechersOnly)
        {
            SelectFrom(_seeders, ownCode is >= 0 ? ownCode.Value : -1, selection);
        }

        SelectFrom(_leechers, ownCode is < 0 ? ~ownCode.Value : -1, selection);
    }

    private void SelectFrom(PeerList list, int ownSlot, PeerSelection selection)
    {
        var count = list.Count;
        if (count == 0 || selection.IsFull)
        {
            return;
        }

        // A random window over the dense list: a fair sample without shuffling or extra memory.
        var start = _random.Next(count);
        for (var i = 0; i < count && !selection.IsFull; i++)
        {
            var slot = start + i;
            if (slot >= count)
            {
                slot -= count;
            }

            if (slot != ownSlot)
            {
                selection.Add(list[slot]);
            }
        }
    }

    private int RemoveSilent(PeerList list, bool seeders, long cutoff)
    {
        var removed = 0;
        for (var slot = list.Count - 1; slot >= 0; slot--)
        {
            if (list[slot].LastSeen < cutoff)
            {
                Remove(seeders ? slot : ~slot);
                removed++;
            }
        }

        return removed;
    }

    private ref PeerEntry EntryAt(int code) => ref code >= 0 ? ref _seeders[code] : ref _leechers[~code];

    private void Insert(PeerEntry entry, bool seeder, bool changed)
    {
        if (!_holdsNativeMemory)
        {
            // The first peer, or the first since Release (a claim answered after the activation ended, say).
            _holdsNativeMemory = true;
            GC.ReRegisterForFinalize(this);
        }

        entry.IsChanged = changed;
        _changedPeers += changed ? 1 : 0;
        var slot = seeder ? _seeders.Add(entry) : _leechers.Add(entry);
        _slots.Add(new PeerKey(entry.PeerId, entry.UserId), seeder ? slot : ~slot);
    }

    private void ReleaseMemory()
    {
        _slots.Release();
        _seeders.Release();
        _leechers.Release();
    }

    private void Remove(int code)
    {
        var seeder = code >= 0;
        var slot = seeder ? code : ~code;
        var list = seeder ? _seeders : _leechers;
        var key = new PeerKey(list[slot].PeerId, list[slot].UserId);
        _changedPeers -= list[slot].IsChanged ? 1 : 0;
        _slots.Remove(key, code);
        Removed.Add(key);
        var last = list.Count - 1;
        if (list.RemoveAt(slot, out var moved))
        {
            _slots.Move(new PeerKey(moved.PeerId, moved.UserId), seeder ? last : ~last, code);
        }
    }
}
