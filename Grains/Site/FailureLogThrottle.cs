namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// Counts failures of one kind and says which to log: the first, then at most one every <see cref="Every"/>, with how
/// many failed since the last line. While the database is away every uncached read fails, and the gateway already
/// writes a line per request refused for it. Thread-safe.
/// </summary>
internal sealed class FailureLogThrottle
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(10);

    private long _sinceLogged;
    private long _loggedAt;

    /// <summary>Counts a failure; true when it is to be logged, with <paramref name="failures"/> counted since the last line (this one included).</summary>
    public bool Count(TimeProvider time, out long failures)
    {
        Interlocked.Increment(ref _sinceLogged);
        var now = time.GetTimestamp();
        var loggedAt = Interlocked.Read(ref _loggedAt);
        if ((loggedAt == 0 || time.GetElapsedTime(loggedAt, now) >= Every)
            && Interlocked.CompareExchange(ref _loggedAt, now, loggedAt) == loggedAt)
        {
            failures = Interlocked.Exchange(ref _sinceLogged, 0);
            return true;
        }

        failures = 0;
        return false;
    }
}
