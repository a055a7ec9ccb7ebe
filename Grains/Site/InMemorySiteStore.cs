using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site held in the silo's memory: the embedded tracker's users and torrents, seeded from a file
/// and changed through the admin API. Meant for a single silo; a cluster shares a database instead.
/// </summary>
internal sealed class InMemorySiteStore : ISiteStore
{
    private readonly Lock _gate = new();
    // Keyed by the passkey's digest: the store never needs the passkey back.
    private readonly Dictionary<UserKey, UserProfile> _users = [];
    private readonly Dictionary<InfoHash, TorrentProfile> _torrents = [];
    private readonly Dictionary<long, Traffic> _userTraffic = [];
    private readonly Dictionary<long, (Traffic Traffic, long Snatches)> _torrentStats = [];
    // Per torrent id: the claim that may write the swarm, its last applied flush and its peers.
    private readonly Dictionary<long, StoredSwarm> _swarms = [];
    private long _lastEpoch;
    // An entry per user and torrent, so per peer ever seen: the compact form of the row.
    private readonly Dictionary<(long UserId, long TorrentId), UsageTotals> _history = [];

    public ValueTask<UserProfile?> FindUserAsync(UserKey userKey, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_users.GetValueOrDefault(userKey));
        }
    }

    public ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_torrents.TryGetValue(infoHash, out var profile))
            {
                return ValueTask.FromResult<TorrentProfile?>(null);
            }

            // The stored profile itself when nothing differs: a swarm holds its profile, and a copy each is 88 bytes a torrent.
            var snatches = _torrentStats.GetValueOrDefault(profile.TorrentId).Snatches;
            return ValueTask.FromResult<TorrentProfile?>(snatches == profile.Snatches ? profile : profile with { Snatches = snatches });
        }
    }

    public ValueTask<SwarmClaim> ClaimSwarmAsync(long torrentId, InfoHash? infoHash = null, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_swarms.TryGetValue(torrentId, out var swarm))
            {
                _swarms[torrentId] = swarm = new StoredSwarm();
            }

            if (infoHash is { } hash)
            {
                if (swarm.InfoHash is { } claimedFor && claimedFor != hash)
                {
                    // The site gave this id another info hash: the stored peers are the old hash's swarm's, parked under
                    // an id no torrent has until that hash is claimed again (or the orphaned-swarm sweep deletes them).
                    var parked = new StoredSwarm { InfoHash = claimedFor, Epoch = ++_lastEpoch, Departed = swarm.Departed };
                    parked.Peers.UnionWith(swarm.Peers);
                    _swarms[-parked.Epoch] = parked;
                    swarm.Peers.Clear();
                    swarm.Departed = null;
                }

                // The site moved this info hash to a new id: the old id's swarm (or a parked one) is this one, with its peers.
                foreach (var (oldId, old) in _swarms.Where(entry => entry.Key != torrentId && entry.Value.InfoHash == hash).ToList())
                {
                    _swarms.Remove(oldId);
                    foreach (var peer in old.Peers)
                    {
                        swarm.Peers.Add(peer);
                    }

                    foreach (var (key, departure) in old.Departed ?? [])
                    {
                        (swarm.Departed ??= []).TryAdd(key, departure);
                    }
                }

                swarm.InfoHash = hash;
            }

            swarm.Epoch = ++_lastEpoch;
            swarm.FlushedSequence = 0;
            return ValueTask.FromResult(new SwarmClaim(swarm.Epoch, [.. swarm.Peers], swarm.Departed is null ? [] : [.. swarm.Departed.Values]));
        }
    }

    public ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var results = new FlushResult[flushes.Count];
            for (var i = 0; i < flushes.Count; i++)
            {
                results[i] = Apply(flushes[i]);
            }

            return ValueTask.FromResult<IReadOnlyList<FlushResult>>(results);
        }
    }

    private FlushResult Apply(SwarmFlush flush)
    {
        if (!_swarms.TryGetValue(flush.TorrentId, out var swarm) || swarm.Epoch != flush.Epoch || flush.Sequence > swarm.FlushedSequence + 1)
        {
            return FlushResult.Fenced;
        }

        if (flush.Sequence <= swarm.FlushedSequence)
        {
            return new FlushResult(FlushStatus.Applied);
        }

        swarm.FlushedSequence = flush.Sequence;
        foreach (var departure in flush.Peers.Departed)
        {
            swarm.Peers.Remove(StoredSwarm.Probe(departure.Key));
            (swarm.Departed ??= [])[departure.Key] = departure;
        }

        foreach (var key in flush.Peers.Forgotten)
        {
            swarm.Peers.Remove(StoredSwarm.Probe(key));
            swarm.Departed?.Remove(key);
        }

        foreach (var peer in flush.Peers.Present)
        {
            // Replaced whole: the set finds a peer by its key alone.
            swarm.Peers.Remove(peer);
            swarm.Peers.Add(peer);
        }

        var counted = 0L;
        for (var i = 0; i < flush.History.Count; i++)
        {
            var (userId, added) = flush.History[i];
            if (!added.Traffic.IsZero)
            {
                _userTraffic[userId] = _userTraffic.GetValueOrDefault(userId) + added.Traffic;
            }

            var key = (userId, flush.TorrentId);
            var known = _history.TryGetValue(key, out var earlier);
            _history[key] = known ? earlier.Then(added) : added;
            // As in the database: a snatch is the history row's first completion time, once per user and torrent.
            if (added.CompletedAtTicks != 0 && (!known || earlier.CompletedAtTicks == 0))
            {
                counted++;
            }
        }

        var (traffic, snatches) = _torrentStats.GetValueOrDefault(flush.TorrentId);
        _torrentStats[flush.TorrentId] = (traffic + flush.Torrent.Traffic, snatches + counted);
        return new FlushResult(FlushStatus.Applied, counted);
    }

    public ValueTask<UserKey?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default)
    {
        var userKey = passkey.ToUserKey();
        lock (_gate)
        {
            // A passkey is one user's, as the site's unique column has it.
            if (_users.TryGetValue(userKey, out var holder) && holder.UserId != profile.UserId)
            {
                throw SiteConflictException.PasskeyOfAnotherUser(profile.UserId);
            }

            UserKey? replaced = null;
            foreach (var (key, user) in _users)
            {
                if (user.UserId == profile.UserId && key != userKey)
                {
                    replaced = key;
                }
            }

            // Personal freeleech is the site's, not the caller's (the admin API does not describe it): kept.
            var freeleechUntil = holder?.FreeleechUntil;
            if (replaced is { } old)
            {
                freeleechUntil = _users[old].FreeleechUntil;
                _users.Remove(old);
            }

            _users[userKey] = profile with { FreeleechUntil = freeleechUntil };
            return ValueTask.FromResult(replaced);
        }
    }

    public ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_users.Remove(passkey.ToUserKey()));
        }
    }

    public ValueTask<InfoHash?> PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default)
    {
        InfoHash? replaced = null;
        lock (_gate)
        {
            // An info hash is one torrent's, as the site's unique column has it.
            if (_torrents.TryGetValue(infoHash, out var holder) && holder.TorrentId != profile.TorrentId)
            {
                throw SiteConflictException.InfoHashOfAnotherTorrent(profile.TorrentId);
            }

            // The id's torrent under another info hash moves to this one, as the site's row does: one torrent id is one
            // swarm (two swarms of one id would fence each other's writes, losing what each had not written).
            foreach (var (hash, _) in _torrents.Where(torrent => torrent.Value.TorrentId == profile.TorrentId && torrent.Key != infoHash).ToList())
            {
                _torrents.Remove(hash);
                replaced = hash;
            }

            _torrents[infoHash] = profile with { Snatches = 0 };
        }

        return ValueTask.FromResult(replaced);
    }

    public ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_torrents.Remove(infoHash));
        }
    }

    public ValueTask<IReadOnlyList<SilentSwarm>> FindSwarmsWithSilentPeersAsync(DateTimeOffset silentBefore, CancellationToken cancellationToken = default)
    {
        var cutoff = silentBefore.ToUnixTimeSeconds();
        lock (_gate)
        {
            var hashes = new Dictionary<long, InfoHash>();
            foreach (var (hash, torrent) in _torrents)
            {
                hashes.TryAdd(torrent.TorrentId, hash);
            }

            IReadOnlyList<SilentSwarm> silent =
            [
                .. _swarms
                    .Where(swarm => swarm.Value.HasSilent(cutoff))
                    .Select(swarm => swarm.Key)
                    .Order()
                    .Select(torrentId => new SilentSwarm(torrentId, hashes.TryGetValue(torrentId, out var hash) ? hash : null)),
            ];
            return ValueTask.FromResult(silent);
        }
    }

    public ValueTask<int> DeleteSilentPeersOfRemovedTorrentsAsync(IReadOnlyList<long> torrentIds, DateTimeOffset silentBefore, CancellationToken cancellationToken = default)
    {
        var cutoff = silentBefore.ToUnixTimeSeconds();
        lock (_gate)
        {
            var registered = _torrents.Values.Select(torrent => torrent.TorrentId).ToHashSet();
            var deleted = 0;
            foreach (var torrentId in torrentIds)
            {
                if (!registered.Contains(torrentId) && _swarms.TryGetValue(torrentId, out var swarm))
                {
                    deleted += swarm.Peers.RemoveWhere(peer => peer.Entry.LastSeen < cutoff);
                    foreach (var key in swarm.Departed?.Where(departure => departure.Value.DepartedAt < cutoff).Select(departure => departure.Key).ToList() ?? [])
                    {
                        swarm.Departed!.Remove(key);
                    }
                }
            }

            return ValueTask.FromResult(deleted);
        }
    }

    // The embedded site has no client policy: every client may announce.
    public ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<byte[]>>([]);

    public ValueTask<Traffic> GetUserTrafficAsync(long userId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_userTraffic.GetValueOrDefault(userId));
        }
    }

    public ValueTask<UserTorrentUsage?> GetUserTorrentAsync(long userId, long torrentId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_history.TryGetValue((userId, torrentId), out var row) ? row.ToUsage(userId, torrentId) : (UserTorrentUsage?)null);
        }
    }

    public ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_torrentStats.GetValueOrDefault(torrentId).Traffic);
        }
    }

    private sealed class StoredSwarm
    {
        // The info hash of the swarm that claimed it last (null: not known).
        public InfoHash? InfoHash;
        public long Epoch;
        public long FlushedSequence;
        // A set of rows found by their key rather than a dictionary from key to row: the key is in the row, and
        // keeping it twice cost 32 bytes a peer.
        public readonly HashSet<StoredPeer> Peers = new(PeerRowKey.Instance);
        // Null while empty, as it is in most swarms.
        public Dictionary<PeerKey, DepartedPeer>? Departed;

        /// <summary>Holds a peer silent since before <paramref name="cutoff"/> (Unix seconds) or a departure taken before it.</summary>
        public bool HasSilent(long cutoff) =>
            Peers.Any(peer => peer.Entry.LastSeen < cutoff) || (Departed?.Values.Any(departure => departure.DepartedAt < cutoff) ?? false);

        /// <summary>A row with only the key set, to find or remove the row of that key.</summary>
        public static StoredPeer Probe(PeerKey key) => new(new PeerEntry { PeerId = key.PeerId, UserId = key.UserId }, false);
    }

    private sealed class PeerRowKey : IEqualityComparer<StoredPeer>
    {
        public static readonly PeerRowKey Instance = new();

        public bool Equals(StoredPeer x, StoredPeer y) => x.Entry.UserId == y.Entry.UserId && x.Entry.PeerId == y.Entry.PeerId;

        public int GetHashCode(StoredPeer row) => HashCode.Combine(row.Entry.PeerId, row.Entry.UserId);
    }
}
