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
    // The latest re-read the site asked for that failed: answers of reads started before it may predate the change.
    private long _failedReread;
    private Task<UserProfile?>? _sharedRead;
    private long _sharedReadNumber;
    private long _sharedReadEndedAt;
    private volatile bool _isCurrent;

    /// <summary>The site's user; null when the site has no such passkey. Meaningful once <see cref="IsLoaded"/>.</summary>
    public UserProfile? Profile { get; private set; }

    /// <summary>True once a read of the site has answered.</summary>
    public bool IsLoaded { get; private set; }

    /// <summary>
    /// True when the answer held may be used: loaded, and no re-read the site asked for (a change notice, or the catch-up
    /// after notices may have been missed) has failed since. A user the site changed is not served from before the change.
    /// </summary>
    public bool IsCurrent => _isCurrent;

    /// <summary>When the read whose answer is held started, in the directory clock's ticks.</summary>
    public long ReadAt { get; private set; }

    /// <summary>When a swarm last asked for the user, in the directory clock's ticks.</summary>
    public long UsedAt { get; set; }

    /// <summary>How long a failed shared read stays the answer to callers (real time, as the database's is).</summary>
    public static readonly TimeSpan FailedReadHeld = TimeSpan.FromSeconds(1);

    /// <summary>True when the latest read made for callers failed (the database was down): a later caller reads again.</summary>
    public bool SharedReadFailed => _sharedRead is { IsFaulted: true } or { IsCanceled: true };

    /// <summary>
    /// A read of the site for callers the entry cannot answer (its first, or one after a failed re-read), shared by every
    /// caller that arrives before it answers. A read that failed is the answer for <see cref="FailedReadHeld"/> more: while
    /// the database is down, each swarm's announce then fails at once instead of holding the swarm for a connect timeout.
    /// </summary>
    public Task<UserProfile?> SharedRead(Func<CachedUser, Task<UserProfile?>> read)
    {
        lock (_gate)
        {
            if (_isCurrent)
            {
                // Made current since the caller looked (a later read answered): that answer, not an older read's.
                return Task.FromResult(Profile);
            }

            // Joined only while it can hold the answer: in flight, and started after the latest failed re-read (one
            // started before may predate the change that re-read was for); or failed a moment ago.
            var usable = _sharedRead switch
            {
                null => false,
                { IsCompleted: false } => _sharedReadNumber > _failedReread,
                // Its end not noted yet (the note runs after the failure): it failed just now.
                { IsFaulted: true } or { IsCanceled: true } => Volatile.Read(ref _sharedReadEndedAt) is var endedAt
                    && (endedAt == 0 || Environment.TickCount64 - endedAt < (long)FailedReadHeld.TotalMilliseconds),
                _ => false,
            };
            if (usable)
            {
                return _sharedRead!;
            }

            // The read takes its number (StartRead, under this same lock) before its first await.
            Volatile.Write(ref _sharedReadEndedAt, 0);
            var started = read(this);
            _sharedRead = started;
            _sharedReadNumber = _readsStarted;
            // Observes the failure too: a caller may have stopped waiting (SiteOptions.UserReadWait).
            started.ContinueWith(
                static (read, state) =>
                {
                    _ = read.Exception;
                    var user = (CachedUser)state!;
                    lock (user._gate)
                    {
                        // A later read's hold is counted from its own end, not this one's.
                        if (ReferenceEquals(user._sharedRead, read))
                        {
                            user._sharedReadEndedAt = Environment.TickCount64;
                        }
                    }
                },
                this,
                TaskScheduler.Default);
            return started;
        }
    }

    /// <summary>
    /// The site changed the user and this silo's re-read <paramref name="read"/> (from <see cref="StartRead"/>) failed:
    /// unless a read started after it has answered, the next use reads the user first.
    /// </summary>
    public void RereadFailed(long read)
    {
        lock (_gate)
        {
            _failedReread = Math.Max(_failedReread, read);
            _isCurrent = IsLoaded && _readApplied > _failedReread;
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
            // Only a read started after a failed re-read is sure to hold the change that re-read was for.
            _isCurrent = _readApplied > _failedReread;
        }
    }
}
