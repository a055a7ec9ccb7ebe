using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// One user as this silo's <see cref="UserDirectory"/> holds it: the site's profile (or its absence) and when it was
/// read and last used. Read by many swarms at once without a lock (a profile is immutable and replaced whole);
/// reads of the site are ordered under the entry's lock. The per-user counters the site's policy needs next
/// (leeching slots, peers per torrent) belong here, counted by this silo's swarms.
/// </summary>
internal sealed class CachedUser
{
    private readonly Lock _gate = new();
    private long _readsStarted;
    private long _readApplied;
    private Task<UserProfile?>? _firstRead;

    /// <summary>The site's user; null when the site has no such passkey. Meaningful once <see cref="IsLoaded"/>.</summary>
    public UserProfile? Profile { get; private set; }

    /// <summary>True once a read of the site has answered.</summary>
    public bool IsLoaded { get; private set; }

    /// <summary>When the read whose answer is held started, in the directory clock's ticks.</summary>
    public long ReadAt { get; private set; }

    /// <summary>When a swarm last asked for the user, in the directory clock's ticks.</summary>
    public long UsedAt { get; set; }

    /// <summary>True when the first read failed (the database was down): the next caller reads again.</summary>
    public bool FirstReadFailed => _firstRead is { IsFaulted: true } or { IsCanceled: true };

    /// <summary>The first read of the site, shared by every caller that arrives before it answers.</summary>
    public Task<UserProfile?> FirstRead(Func<CachedUser, Task<UserProfile?>> read)
    {
        lock (_gate)
        {
            if (_firstRead is null || FirstReadFailed)
            {
                _firstRead = read(this);
            }

            return _firstRead;
        }
    }

    /// <summary>Numbers a read that is about to start, so an older answer arriving last cannot replace a newer one.</summary>
    public long StartRead()
    {
        lock (_gate)
        {
            return ++_readsStarted;
        }
    }

    /// <summary>Keeps <paramref name="profile"/> unless a read that started later has answered already.</summary>
    public void Apply(long read, long startedAt, UserProfile? profile)
    {
        lock (_gate)
        {
            if (read <= _readApplied)
            {
                return;
            }

            _readApplied = read;
            Profile = profile;
            ReadAt = startedAt;
            IsLoaded = true;
        }
    }
}
