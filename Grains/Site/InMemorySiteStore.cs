using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site held in the silo's memory: the embedded tracker's users and torrents, seeded from a file
/// and changed through the admin API. Meant for a single silo; a cluster shares a database instead.
/// </summary>
internal sealed class InMemorySiteStore(TimeProvider time) : ISiteStore
{
    private readonly Lock _gate = new();
    // Keyed by the passkey's digest: the store never needs the passkey back.
    private readonly Dictionary<string, UserProfile> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<InfoHash, TorrentProfile> _torrents = [];
    private readonly Dictionary<long, Traffic> _userTraffic = [];
    private readonly Dictionary<long, (Traffic Traffic, long Snatches)> _torrentStats = [];
    private readonly Dictionary<string, long> _appliedSequences = new(StringComparer.Ordinal);
    // Oldest first, so the sources due to be forgotten are always at the front.
    private readonly Queue<(string Source, DateTimeOffset RetiredAt)> _retired = new();
    private readonly Dictionary<(long UserId, long TorrentId), UserTorrentUsage> _history = [];

    public ValueTask<UserProfile?> FindUserAsync(string userKey, CancellationToken cancellationToken = default)
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

            var snatches = _torrentStats.GetValueOrDefault(profile.TorrentId).Snatches;
            return ValueTask.FromResult<TorrentProfile?>(profile with { Snatches = snatches });
        }
    }

    public ValueTask<long> ApplyUsageAsync(UsageWrite write, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_appliedSequences.TryGetValue(write.Source, out var applied) && applied >= write.Sequence)
            {
                return ValueTask.FromResult(0L);
            }

            foreach (var user in write.Users)
            {
                _userTraffic[user.UserId] = _userTraffic.GetValueOrDefault(user.UserId) + user.Traffic;
            }

            foreach (var torrent in write.Torrents)
            {
                var (traffic, snatches) = _torrentStats.GetValueOrDefault(torrent.TorrentId);
                _torrentStats[torrent.TorrentId] = (traffic + torrent.Traffic, snatches);
            }

            var counted = 0L;
            foreach (var row in write.History)
            {
                var key = (row.UserId, row.TorrentId);
                var known = _history.TryGetValue(key, out var earlier);
                _history[key] = known ? earlier.Then(row) : row;
                // As in the database: a snatch is the history row's first completion time, once per user and torrent.
                if (row.CompletedAt is not null && (!known || earlier.CompletedAt is null))
                {
                    var (traffic, snatches) = _torrentStats.GetValueOrDefault(row.TorrentId);
                    _torrentStats[row.TorrentId] = (traffic, snatches + 1);
                    counted++;
                }
            }

            _appliedSequences[write.Source] = write.Sequence;
            return ValueTask.FromResult(counted);
        }
    }

    public ValueTask RetireSourceAsync(string source, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (_appliedSequences.ContainsKey(source))
            {
                _retired.Enqueue((source, now));
            }

            // As in the database: at most a few at a time, and only once the grace has passed.
            for (var forgotten = 0; forgotten < RetiredSources.ForgetAtOnce && _retired.TryPeek(out var due) && due.RetiredAt < now - RetiredSources.Grace; forgotten++)
            {
                _appliedSequences.Remove(_retired.Dequeue().Source);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>True while the store remembers the source's last sequence (for tests and diagnostics).</summary>
    public bool RemembersSource(string source)
    {
        lock (_gate)
        {
            return _appliedSequences.ContainsKey(source);
        }
    }

    public ValueTask<string?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default)
    {
        var userKey = passkey.ToUserKey();
        lock (_gate)
        {
            var replaced = _users.FirstOrDefault(user => user.Value.UserId == profile.UserId && user.Key != userKey).Key;
            if (replaced is not null)
            {
                _users.Remove(replaced);
            }

            _users[userKey] = profile;
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

    public ValueTask PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _torrents[infoHash] = profile with { Snatches = 0 };
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_torrents.Remove(infoHash));
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
            return ValueTask.FromResult(_history.TryGetValue((userId, torrentId), out var row) ? row : (UserTorrentUsage?)null);
        }
    }

    public ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_torrentStats.GetValueOrDefault(torrentId).Traffic);
        }
    }
}
