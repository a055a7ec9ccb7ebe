namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// Orders overlapping reloads of one cached profile, such as a periodic reload interleaved with a change notice's.
/// Each read is numbered when it starts, and its answer is used only if no read that started later has been used
/// already, so an older read whose answer arrives last can never put back what a newer read replaced (a revoked
/// user, a deleted torrent). Used only from one grain's turns, so it needs no locking.
/// </summary>
internal sealed class ReloadOrder
{
    private long _started;
    private long _applied;

    /// <summary>Numbers a read that is about to start.</summary>
    public long Start() => ++_started;

    /// <summary>The number the next read will get: any read numbered from this on starts after now.</summary>
    public long Next => _started + 1;

    /// <summary>True, and recorded, when the answer of read <paramref name="read"/> may be used; false when a later read's was.</summary>
    public bool TryApply(long read)
    {
        if (read <= _applied)
        {
            return false;
        }

        _applied = read;
        return true;
    }
}
