using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// The site's users as this silo knows them. A swarm checks the announcing user here, in its own turn, so an
/// announce takes one grain call and, once the user is cached, no query. Every silo keeps its own directory,
/// kept current by the site's change notices each silo listens to (<see cref="SiteChangeListener"/>) and, as a
/// safety net, by re-reading every user held longer than <see cref="SiteOptions.RefreshInterval"/>. One sweep per
/// silo does that re-reading and the forgetting: junk passkeys after <see cref="SiteOptions.UnknownKeyLifetime"/>,
/// users unused as long as a swarm stays in memory unused (<see cref="TrackerSiloBuilderExtensions.SwarmLifetime"/>:
/// past the peer timeout, which exceeds the announce interval, so a user announcing one torrent once an interval
/// stays cached, however long the operator sets the interval).
/// </summary>
internal sealed partial class UserDirectory(
    ISiteStore store,
    FirstReadGate firstReads,
    IOptions<SiteOptions> siteOptions,
    IOptions<TrackerOptions> trackerOptions,
    TimeProvider time,
    ILogger<UserDirectory> logger)
    : BackgroundService
{
    // A sweep that re-reads many users must not turn into thousands of queries at once.
    private const int ConcurrentReads = 8;

    private readonly FailureLogThrottle _readFailures = new();

    private readonly ConcurrentDictionary<UserKey, CachedUser> _users = new();

    /// <summary>The number of passkeys held, known or not.</summary>
    public int Count => _users.Count;

    /// <summary>The user if this silo holds an answer for the passkey (a null <paramref name="profile"/>: the site has no such passkey).</summary>
    public bool TryGet(UserKey key, out UserProfile? profile)
    {
        if (_users.TryGetValue(key, out var user) && user.IsCurrent)
        {
            user.UsedAt = time.GetTimestamp();
            profile = user.Profile;
            return true;
        }

        profile = null;
        return false;
    }

    /// <summary>The user, read from the site first if this silo holds no answer yet; null when the site has no such passkey.</summary>
    public ValueTask<UserProfile?> GetAsync(UserKey key)
    {
        if (TryGet(key, out var cached))
        {
            return ValueTask.FromResult(cached);
        }

        var user = _users.GetOrAdd(key, static _ => new CachedUser());
        user.UsedAt = time.GetTimestamp();
        return new ValueTask<UserProfile?>(user.SharedRead(entry => ReadAsync(key, entry, changed: false, first: true)));
    }

    /// <summary>
    /// The user as <see cref="GetAsync"/> answers it, but waiting at most <see cref="SiteOptions.UserReadWait"/> for a read: a read that
    /// failed or did not answer in time is a <see cref="SiteUnavailableException"/>, which the gateway answers at once
    /// with one log line (it is no <see cref="TimeoutException"/>, which the gateway takes for a silo gone and calls
    /// again, waiting here again).
    /// </summary>
    public ValueTask<UserProfile?> GetOrUnavailableAsync(UserKey key) =>
        TryGet(key, out var cached) ? ValueTask.FromResult(cached) : WaitForReadAsync(GetAsync(key).AsTask(), siteOptions.Value.UserReadWait);

    private static async ValueTask<UserProfile?> WaitForReadAsync(Task<UserProfile?> read, TimeSpan wait)
    {
        try
        {
            return await read.WaitAsync(wait);
        }
        catch (TimeoutException) when (read.IsCompletedSuccessfully)
        {
            // Answered just as the wait ended.
            return read.Result;
        }
        catch (TimeoutException) when (!read.IsCompleted)
        {
            throw new SiteUnavailableException($"the site did not answer the user's read within {wait.TotalSeconds:0.#} s");
        }
        catch (Exception exception) when (SiteOutage.Is(exception))
        {
            // The store's exception itself stays in the silo, which logs it (ReadAsync).
            throw SiteOutage.Unavailable("the user's read", exception);
        }
    }

    /// <summary>True when this silo holds the passkey, so a change to it must reach this silo's directory.</summary>
    public bool Holds(UserKey key) => _users.ContainsKey(key);

    /// <summary>
    /// Re-reads the user if this silo holds it (the site changed it); a user not held is read when first asked for. If
    /// the re-read fails, the user is not served from the answer held (it may predate the change): its next use reads it.
    /// </summary>
    public async Task ReloadAsync(UserKey key)
    {
        if (_users.TryGetValue(key, out var user))
        {
            await ReadAsync(key, user, changed: true);
        }
    }

    /// <summary>
    /// Re-reads every user held, a few at a time (notices may have been missed), each as <see cref="ReloadAsync"/> does.
    /// A failed read does not stop the others; the first failure is thrown once all are done.
    /// </summary>
    public async Task ReloadAllAsync()
    {
        var failures = 0;
        Exception? first = null;
        await Parallel.ForEachAsync(
            [.. _users],
            new ParallelOptions { MaxDegreeOfParallelism = ConcurrentReads },
            async (entry, _) =>
            {
                try
                {
                    await ReadAsync(entry.Key, entry.Value, changed: true);
                }
                catch (Exception exception)
                {
                    Interlocked.CompareExchange(ref first, exception, null);
                    Interlocked.Increment(ref failures);
                }
            });
        if (first is not null)
        {
            throw new AggregateException($"{failures} cached users could not be re-read; each is read again at its next use", first);
        }
    }

    /// <summary>Forgets what has expired and re-reads what is due; one pass over the users held.</summary>
    public async Task SweepAsync(CancellationToken cancellationToken = default)
    {
        var options = siteOptions.Value;
        var lifetime = TrackerSiloBuilderExtensions.SwarmLifetime(trackerOptions.Value);
        var now = time.GetTimestamp();
        var due = new List<KeyValuePair<UserKey, CachedUser>>();
        foreach (var (key, user) in _users)
        {
            var unused = time.GetElapsedTime(user.UsedAt, now);
            var held = time.GetElapsedTime(user.ReadAt, now);
            var forget = unused >= lifetime
                || (user.IsLoaded && user.Profile is null && held >= options.UnknownKeyLifetime)
                || (!user.IsLoaded && user.SharedReadFailed);
            if (forget)
            {
                _users.TryRemove(new KeyValuePair<UserKey, CachedUser>(key, user));
            }
            else if (user.IsLoaded && held >= options.RefreshInterval)
            {
                due.Add(new(key, user));
            }
        }

        await ReadAllAsync(due, cancellationToken);
    }

    private Task ReadAllAsync(IEnumerable<KeyValuePair<UserKey, CachedUser>> users, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(
            users,
            new ParallelOptions { MaxDegreeOfParallelism = ConcurrentReads, CancellationToken = cancellationToken },
            async (entry, _) => await ReadAsync(entry.Key, entry.Value, changed: false));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = siteOptions.Value;
        var period = options.UnknownKeyLifetime < options.RefreshInterval ? options.UnknownKeyLifetime : options.RefreshInterval;
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync(stoppingToken);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    // The users keep their last answer; the next sweep reads them again.
                    Log.SweepFailed(logger, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    // changed: the site may have changed the user (a notice, or notices missed), so a failed read must not leave the old
    // answer in use.
    // first: a read a request waits for (FirstReadGate), not a re-read of a user held.
    private async Task<UserProfile?> ReadAsync(UserKey key, CachedUser user, bool changed, bool first = false)
    {
        var read = user.StartRead();
        var startedAt = time.GetTimestamp();
        UserProfile? profile;
        try
        {
            using (first ? await firstReads.EnterAsync("user").ConfigureAwait(false) : default(FirstReadGate.Slot?))
            {
                // Not on the calling grain's scheduler: other swarms share this read, and the caller's activation may be gone when it ends.
                profile = await store.FindUserAsync(key).ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            if (changed)
            {
                user.RereadFailed(read);
            }

            LogReadFailure(exception);
            throw;
        }

        user.Apply(read, startedAt, profile);
        return user.Profile;
    }

    private void LogReadFailure(Exception exception)
    {
        if (_readFailures.Count(time, out var failures))
        {
            Log.ReadFailed(logger, exception, failures);
        }
    }

    private static partial class Log
    {
        // Any read: an announce's or a scrape's (answered "unavailable" when the database is away), a notice's, a sweep's.
        [LoggerMessage(2, LogLevel.Warning, "Reading users from the site failed ({Failures} reads since the last such line)")]
        public static partial void ReadFailed(ILogger logger, Exception exception, long failures);

        [LoggerMessage(1, LogLevel.Warning, "Re-reading cached users from the site failed; they keep their last answer until the next sweep")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }
}
