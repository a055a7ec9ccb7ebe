using System.Buffers.Binary;
using System.Diagnostics;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Users;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One torrent's swarm. The announce checks its user in this silo's <see cref="UserDirectory"/>, then runs in a single
/// turn with no await, so peers, selection and accounting never interleave. The announce is interleaved only so that a
/// user's first read waits outside the swarm's turn: a slow or absent database holds back that user's announce, not
/// every cached user's announce to the swarm. Its
/// housekeeping has no timers: it publishes when the next job is due (<see cref="SwarmSchedule"/>) and the silo's
/// <see cref="SwarmSweeper"/> calls <see cref="Sweep"/> then. A flush writes the peers that changed together with
/// the statistics credited from them, fenced by this activation's claim on the swarm (<see cref="SwarmFlush"/>):
/// a stale or duplicate activation writes nothing.
/// </summary>
[GrainType(TorrentGrainReferences.GrainTypeName)]
internal sealed partial class TorrentGrain(
    ISiteStore store,
    SwarmFlushWriter writer,
    IOptions<TrackerOptions> trackerOptions,
    IOptions<StatsOptions> statsOptions,
    IOptions<SiteOptions> siteOptions,
    ClientAllowList clients,
    UserDirectory users,
    FirstReadGate firstReads,
    TorrentReadFailureLog readFailures,
    SwarmSweeper sweeper,
    LocalActivations activations,
    SiloMetrics metrics,
    TimeProvider time,
    ILogger<TorrentGrain> logger) : Grain, ITorrentGrain
{
    /// <summary>
    /// An announce that reaches its swarm later than this after a gateway received it is refused: the gateway gave up
    /// on it long before (it waits seconds), so the client has resent it. Departures are remembered as long, so no try
    /// of an announce from before a peer left can bring it back.
    /// </summary>
    public static readonly TimeSpan MaxAnnounceAge = TimeSpan.FromMinutes(5);

    // Writes an asked-for flush (FlushUsage) makes before it gives up (the database down); a deactivation's flush tries
    // until its time is up. Each waits for the writer's answer.
    private const int FlushUsageAttempts = 5;

    // Between failed tries of a flush-until-written: a database restarting or failing over refuses connections for
    // seconds, so tries without a pause would all fail within milliseconds. Real time, as the database's is.
    private static readonly TimeSpan FirstRetryPause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LongestRetryPause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How soon (give or take a fifth) a swarm re-reads its torrent again after a re-read the site asked for failed (a change notice, or the
    /// catch-up after notices were missed): a removed torrent must not be served until the periodic re-read an hour on.
    /// </summary>
    public static readonly TimeSpan ChangedProfileRetry = TimeSpan.FromSeconds(5);

    /// <summary>The longest pause between such re-reads while they keep failing (they double from <see cref="ChangedProfileRetry"/>).</summary>
    public static readonly TimeSpan LongestChangedProfileRetry = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long after a swarm's first read of its torrent started its calls are answered unavailable if it has not
    /// answered (the read goes on). Counted from the read's start, not each call's, so calls queued behind the
    /// activation do not wait again. An announce of a torrent and a user both new to the silo waits for this, then up
    /// to the user's 3 s (SiteOptions.UserReadWait): both within the gateway's 5 s response timeout. Real time, as the
    /// database's is.
    /// </summary>
    private static readonly TimeSpan FirstReadWait = TimeSpan.FromSeconds(1.5);

    // A failed first read stays the answer this long: the call that activated the swarm, and calls arriving with it,
    // get its failure without a second read, and while the database is away an unread swarm reads once a second at most.
    private static readonly TimeSpan FailedFirstReadHold = TimeSpan.FromSeconds(1);

    private readonly Swarm _swarm = new(Random.Shared);
    private readonly ReloadOrder _reloads = new();
    private readonly SwarmLedger _ledger = new();
    private InfoHash _infoHash;
    // The site changed the torrent: the first re-read numbered this or later (_reloads) holds the change; until one has
    // answered, re-read every ChangedProfileRetry. 0: no change unread.
    private long _changeReadFrom;
    private int _failedChangeReads;
    private TorrentProfile? _profile;
    // Until the swarm's first read of its torrent (and its claim) has succeeded. A read that failed or did not answer
    // within FirstReadWait (the site's database away or slow) leaves the activation standing, knowing nothing of the
    // torrent: its calls are answered unavailable, and its next announce or scrape reads again. A failed activation
    // instead made Orleans log two errors with stack traces per call, and a slow read reached the gateway as a
    // timeout, which it takes for a silo gone and calls again. Counted in LocalActivations (_counted) only while a
    // read is out or once one has succeeded: a notice need not reach a swarm that will read anyway.
    private bool _unread = true;
    // The first read: the activation's, or the latest started by a call since; one at a time, shared by every call.
    // When it started, and when it failed (Stopwatch timestamps).
    private Task _firstRead = Task.CompletedTask;
    private long _firstReadStartedAt;
    private long _firstReadFailedAt;
    private bool _counted;
    // OnDeactivateAsync has begun: a first read still out must not claim the swarm for an activation that is going.
    private bool _deactivating;
    // The swarm's claim, taken when the torrent is first known registered; 0 until then. Kept after the site
    // unregisters the torrent, so traffic accounted before that is still written.
    private long _torrentId;
    private long _epoch;
    private long _sequence;
    private Task? _claiming;
    // Cut and not yet confirmed: resent unchanged until the store answers, so it is applied once.
    private SwarmFlush? _outstanding;
    private long _snatchesWrittenSinceLoad;
    // Flush writes started or answered, so a re-read can tell whether one overlapped it.
    private long _flushWriteEvents;
    // The swarm's size as last written, so an unchanged swarm writes nothing.
    private int _lastWrittenSeeders = -1;
    private int _lastWrittenLeechers = -1;
    private Task _flush = Task.CompletedTask;
    // When an announce or a scrape last reached the swarm (Unix ms); 0 while it has only been asked to reload or woken
    // by the orphaned-swarm sweep: then it need not stay in memory once empty. Once empty, a swarm leaves
    // SwarmLifetime after this: the sweeper's calls count as use to Orleans, so its collector would never take it.
    private long _lastServedAt;
    // A newer activation has claimed the swarm: this one's peers and statistics are stale, so it writes nothing and goes.
    private bool _fenced;
    // The site gave the info hash another torrent id: this activation writes what it accounted under the old id and
    // goes, and the next one claims the swarm of the new id.
    private bool _retiring;

    // When each housekeeping job is next due, in Unix milliseconds (long.MaxValue: not due); their earliest is
    // published in _schedule for the sweeper.
    private SwarmSchedule _schedule = null!;
    private long _flushDueAt = long.MaxValue;
    private long _pruneDueAt = long.MaxValue;
    private long _refreshDueAt = long.MaxValue;
    private long _forgetDueAt = long.MaxValue;
    private long _refreshEvery;
    // Restored peers get a peer timeout from the claim that restored them to announce, however long they were silent before (a
    // cluster stopped for hours): no peer is pruned before this (Unix ms).
    private long _pruneNotBefore;

    // The flush cut but not yet answered: when its oldest announce was accounted, and its raw bytes (for metrics).
    private long _outstandingSince = long.MaxValue;
    private long _outstandingBytes;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!InfoHash.TryParseHex(key, out _infoHash))
        {
            throw new InvalidOperationException($"Torrent grain key '{key}' is not 40 hex characters.");
        }

        // Not on the activation's cancellation: a read that outlives the wait goes on, for the calls after it.
        StartFirstReadUnlessOut();
        try
        {
            await WaitForFirstReadAsync();
        }
        catch (SiteUnavailableException)
        {
            // The activating call gets the same answer (ReadIfUnreadAsync): the read failed moments ago, or is still out
            // past its wait.
        }

        var now = NowMilliseconds();
        _refreshEvery = SpreadRefreshInterval(siteOptions.Value.RefreshInterval, _infoHash);
        _refreshDueAt = now + _refreshEvery;
        // A first prune even with no peers: a swarm activated by a call that is no use of it (an admin's or the
        // orphaned-swarm sweep's question) and with nothing restored leaves then; one announced to stays, its prune
        // moved on to the end of its lifetime.
        _pruneDueAt = Math.Min(_pruneDueAt, now + Milliseconds(trackerOptions.Value.PruneInterval));
        ScheduleForgetIfUnregistered(now);
        // A swarm restored from the site writes its size once, so the torrent's counts are current.
        ScheduleFlushIfUnwritten();
        _schedule = new SwarmSchedule(this.AsReference<ITorrentGrain>(), _infoHash);
        PublishSchedule();
        sweeper.Add(_schedule);
    }

    /// <summary>
    /// Does whatever housekeeping is due: forget an unknown info hash, prune silent peers, write what changed, re-read
    /// the torrent. Answers once the work in this turn is done (the flush cut), not when the database has written it,
    /// so the sweeper never waits on the database; the swarm schedules itself again when the write is answered. A slow
    /// database holds no announce back, and a re-read overlapping a notice's keeps the answer of whichever read started
    /// last (_reloads).
    /// </summary>
    public ValueTask Sweep()
    {
        var now = NowMilliseconds();
        if (now >= _forgetDueAt)
        {
            ForgetIfUnregistered(now);
        }

        var leaving = false;
        if (now >= _pruneDueAt)
        {
            PruneSilentPeers();
            leaving = LeaveIfUnused();
        }

        var flush = Task.CompletedTask;
        if (now >= _flushDueAt)
        {
            _flushDueAt = long.MaxValue;
            flush = FlushCore();
        }

        var refresh = Task.CompletedTask;
        // A swarm on its way out need not re-read its torrent.
        if (now >= _refreshDueAt && !leaving)
        {
            _refreshDueAt = now + _refreshEvery;
            // After this sweep's flush, so the read does not overlap it and can take the site's snatch count. A swarm
            // not read yet reads at its next call.
            if (!_unread)
            {
                refresh = flush.IsCompleted ? ReloadProfileAsync() : ReloadAfterAsync(flush);
            }
        }

        // A read or write that failed at once (before any await) is faulted already: it goes the way of one that fails
        // later, so it is logged and a change's re-read is retried soon.
        if (flush.IsCompletedSuccessfully && refresh.IsCompletedSuccessfully)
        {
            ScheduleFlushIfUnwritten();
        }
        else
        {
            // Continues in this activation's turns, like a timer's work.
            _ = RescheduleWhenAnsweredAsync(flush, refresh);
        }

        PublishSchedule();
        return ValueTask.CompletedTask;
    }

    private async Task ReloadAfterAsync(Task flush)
    {
        try
        {
            await flush;
        }
        catch
        {
            // The flush's failure is its own (logged where it is awaited); the re-read goes ahead.
        }

        await ReloadProfileAsync();
    }

    private async Task RescheduleWhenAnsweredAsync(Task flush, Task refresh)
    {
        try
        {
            await Task.WhenAll(flush, refresh);
        }
        catch (Exception exception)
        {
            // A failed re-read keeps the profile it had, and is tried again when next due, soon for a change of the
            // site's. (A flush's failure is its own: FlushOnceAsync.)
            if (SiteOutage.Is(exception))
            {
                readFailures.ReReadFailed(exception);
            }
            else
            {
                Log.ReReadFailed(logger, exception, _infoHash.ToGrainKey());
            }
            if (refresh.IsFaulted)
            {
                RetryRefreshSoon();
            }
        }

        // A finished task's state machine is 112 bytes a swarm kept for nothing.
        if (_flush.IsCompleted)
        {
            _flush = Task.CompletedTask;
        }

        // Whatever the flush did not write, or what came in meanwhile, is due again one interval on.
        ScheduleFlushIfUnwritten();
        PublishSchedule();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        try
        {
            _deactivating = true;
            Uncount();
            if (_claiming is { IsCompleted: false } claiming)
            {
                // A first read's claim already sent: once it is in, this activation holds the swarm and writes what it
                // restored; a claim answered after the next activation's would fence that one.
                try
                {
                    await claiming.WaitAsync(cancellationToken);
                }
                catch
                {
                    // Failed or out of time: the next activation claims the swarm itself.
                }
            }

            if (_schedule is not null)
            {
                sweeper.Remove(_schedule);
            }

            // A swarm left idle (its collection age is a peer timeout and more) holds only peers that have timed
            // out, restored ones too: pruned and written here, so no row outlives the swarm. A stopping silo's swarms
            // prune only what their next prune would have.
            if (_epoch != 0 && !_fenced)
            {
                PruneSilentPeers();
            }

            await FlushUntilWrittenAsync(int.MaxValue, cancellationToken);
            if (!_fenced && HasUnwritten)
            {
                // Lost as in a crash: the site still holds these peers' earlier totals, so their next announces
                // credit the traffic, except what the README's crash table lists (goodbyes, first announces).
                Log.UsageLeftOnDeactivation(logger, _infoHash.ToGrainKey());
            }
        }
        finally
        {
            // The peers live outside the GC heap: given back now rather than when a full collection finds the activation.
            _swarm.Release();
        }
    }

    public ValueTask<AnnounceResult> Announce(AnnounceCommand command)
    {
        MarkServed();
        if (_unread)
        {
            return AnnounceOnceReadAsync(command);
        }

        // Nearly always cached: then the whole announce is this one turn.
        return users.TryGet(command.User, out var user)
            ? ValueTask.FromResult(AnnounceAs(user, command))
            : AnnounceOnceUserIsReadAsync(command);
    }

    private async ValueTask<AnnounceResult> AnnounceOnceReadAsync(AnnounceCommand command)
    {
        await ReadIfUnreadAsync();
        return await Announce(command);
    }

    private async ValueTask<AnnounceResult> AnnounceOnceUserIsReadAsync(AnnounceCommand command)
    {
        // Nothing of the swarm is looked at before this await, and other requests run while it waits (the announce is
        // interleaved): the turn after it checks and changes the swarm at once, so it sees whatever they changed. The
        // wait is bounded (SiteOptions.UserReadWait): a deactivation starts only once no request runs, and its flush
        // shares the same budget.
        var user = await users.GetOrUnavailableAsync(command.User);
        return AnnounceAs(user, command);
    }

    /// <summary>The private tracker's checks in a fixed order (passkey, may leech, swarm, client, torrent), then the swarm.</summary>
    private AnnounceResult AnnounceAs(UserProfile? user, AnnounceCommand command)
    {
        if (user is null)
        {
            return AnnounceResult.Refused(AnnounceStatus.UnknownPasskey, null);
        }

        // A user who may not leech can still seed, partial seeds too (BEP 21 event=paused: it downloads nothing more and
        // is handed leechers only), and can still leave a swarm cleanly.
        if (!user.CanLeech && command.Left > 0 && command.Event is not (AnnounceEvent.Stopped or AnnounceEvent.Paused))
        {
            return AnnounceResult.Refused(AnnounceStatus.LeechingNotAllowed, null);
        }

        if (_fenced || _retiring)
        {
            // Whatever this activation accepted now would be forgotten with it; the gateway resends instead.
            return AnnounceResult.Refused(AnnounceStatus.SwarmMoved, null);
        }

        if (!clients.IsAllowed(command.PeerId))
        {
            return AnnounceResult.Refused(AnnounceStatus.ClientNotAllowed, null);
        }

        if (_profile is null)
        {
            return AnnounceResult.Refused(AnnounceStatus.TorrentNotRegistered, null);
        }

        if (_profile.Status == TorrentStatus.Deleted)
        {
            return AnnounceResult.Refused(AnnounceStatus.TorrentDeleted, _profile.DeletedReason);
        }

        var now = time.GetUtcNow();
        // Refused too when stamped that far ahead: a gateway whose clock runs ahead would make its peers' announces
        // through other gateways look received earlier, and so skipped as late tries (Swarm.IsLate).
        if (Math.Abs(UnixMicroseconds.From(now) - command.ReceivedAt) > (long)MaxAnnounceAge.TotalMicroseconds)
        {
            return AnnounceResult.Refused(AnnounceStatus.TooOld, null);
        }

        // From here to the reply nothing awaits, so the thread's selection is this announce's alone.
        var selection = PeerSelection.ForThisThread;
        selection.Reset(command.NumWant, command.WantPeerIds);
        var announce = new PeerAnnounce(command.PeerId, command.Endpoint, command.Uploaded, command.Downloaded, command.Left, command.Event, user.UserId, command.ReceivedAt);
        var userMultipliers = user.MultipliersAt(UnixMicroseconds.ToDateTimeOffset(command.ReceivedAt));
        var credit = _swarm.Announce(announce, now.ToUnixTimeSeconds(), _profile.For(user.UserId, userMultipliers, now), selection);
        _ledger.Record(user.UserId, credit, now);
        ScheduleAfterAnnounce(now.ToUnixTimeMilliseconds());

        return new AnnounceResult(
            AnnounceStatus.Accepted,
            null,
            _swarm.Seeders,
            _swarm.Leechers,
            Snatches,
            selection.Peers4ToArray(),
            selection.Peers6ToArray(),
            selection.Ids4ToArray(),
            selection.Ids6ToArray());
    }

    public ValueTask<TorrentCounts> Scrape()
    {
        MarkServed();
        return _unread ? ScrapeOnceReadAsync() : ValueTask.FromResult(Counts());
    }

    private async ValueTask<TorrentCounts> ScrapeOnceReadAsync()
    {
        await ReadIfUnreadAsync();
        return Counts();
    }

    private TorrentCounts Counts() => _profile is { Status: TorrentStatus.Active }
        ? new TorrentCounts(true, _swarm.Seeders, _swarm.Leechers, Snatches)
        : TorrentCounts.Unregistered;

    public ValueTask<TorrentProfile?> GetProfile() => _unread ? ProfileOnceReadAsync() : ValueTask.FromResult(_profile);

    private async ValueTask<TorrentProfile?> ProfileOnceReadAsync()
    {
        await ReadIfUnreadAsync();
        return _profile;
    }

    public async ValueTask Refresh()
    {
        if (_unread)
        {
            // A first read started now is newer than the change; one already out may have read before it, so the
            // change is read again below once that one has answered.
            var startedHere = StartFirstReadUnlessOut();

            await _firstRead;
            if (startedHere)
            {
                LeaveIfUnused();
                return;
            }
        }

        // A later change needs a later read, even while an earlier one is still unread.
        _changeReadFrom = _reloads.Next;
        try
        {
            await ReloadProfileAsync();
        }
        catch
        {
            RetryRefreshSoon();
            throw;
        }

        // A change notice for a torrent nobody is using must not keep a swarm grain in memory.
        LeaveIfUnused();
    }

    public async ValueTask FlushUsage() => await FlushUntilWrittenAsync(FlushUsageAttempts, CancellationToken.None);

    private long Snatches => (_profile?.Snatches ?? 0) + _snatchesWrittenSinceLoad + (_outstanding?.Torrent.Snatches ?? 0) + _ledger.Snatches;

    /// <summary>
    /// The swarm's first read of its torrent, and its claim if the torrent is registered, with the swarm counted in
    /// LocalActivations before the read, so a change notice arriving meanwhile still reaches it. An outage is a
    /// <see cref="SiteUnavailableException"/>, logged here (at most every ten seconds), and leaves the swarm uncounted.
    /// </summary>
    private async Task ReadFirstAsync()
    {
        activations.Add(_infoHash);
        _counted = true;
        try
        {
            await ReloadProfileAsync(first: true);
        }
        catch (Exception exception)
        {
            // A failed activation is never deactivated (OnDeactivateAsync does not run), so it must not stay counted.
            Uncount();
            if (!SiteOutage.Is(exception))
            {
                // A bug, not an outage: logged here too, since a read that outlived its callers' wait has no caller left.
                Log.FirstReadFailed(logger, exception, _infoHash.ToGrainKey());
                throw;
            }

            readFailures.Failed(exception);
            _firstReadFailedAt = Stopwatch.GetTimestamp();
            throw SiteOutage.Unavailable("the torrent's read", exception);
        }

        _unread = false;
        // Answered: callers waiting hold this task themselves, and the activation need not keep its state machine (a
        // tenth of our part of an idle swarm's heap) for as long as it lives.
        _firstRead = Task.CompletedTask;
        if (_schedule is not null)
        {
            // Read after the activation: as at one that read, a swarm restored from the site writes its size once.
            ScheduleFlushIfUnwritten();
            PublishSchedule();
        }
    }

    /// <summary>
    /// For a call to a swarm not read yet: the failure of a first read that failed less than
    /// <see cref="FailedFirstReadHold"/> ago; else the first read out, or a new one, waited for until
    /// <see cref="FirstReadWait"/> after it started.
    /// </summary>
    private Task ReadIfUnreadAsync()
    {
        if (!_unread)
        {
            return Task.CompletedTask;
        }

        if (_firstRead.IsFaulted && Stopwatch.GetElapsedTime(_firstReadFailedAt) < FailedFirstReadHold)
        {
            return _firstRead;
        }

        StartFirstReadUnlessOut();
        return WaitForFirstReadAsync();
    }

    /// <summary>Starts a first read unless one is out; true if it started one.</summary>
    private bool StartFirstReadUnlessOut()
    {
        if (!_firstRead.IsCompleted)
        {
            return false;
        }

        // A read that failed after its callers stopped waiting: its exception was logged (ReadFirstAsync) and is seen
        // here, not left to the finalizer's unobserved-exception event.
        _ = _firstRead.Exception;
        _firstReadStartedAt = Stopwatch.GetTimestamp();
        _firstRead = ReadFirstAsync();
        return true;
    }

    private async Task WaitForFirstReadAsync()
    {
        var read = _firstRead;
        var left = FirstReadWait - Stopwatch.GetElapsedTime(_firstReadStartedAt);
        try
        {
            await read.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
        catch (TimeoutException) when (!read.IsCompleted)
        {
            throw new SiteUnavailableException($"the site did not answer the torrent's read within {FirstReadWait.TotalSeconds:0.#} s");
        }
        catch (TimeoutException)
        {
            // The read answered just as the wait ended (its own outages are SiteUnavailableExceptions): its answer stands.
            await read;
        }
    }

    private void Uncount()
    {
        if (_counted)
        {
            _counted = false;
            activations.Remove(_infoHash);
        }
    }

    // first: the activation's read, which waits for a slot (FirstReadGate): a flood of unknown info hashes activates a
    // swarm each, and must leave the statistics writes their connections. A registered torrent's claim, after it, does
    // not: it can wait long on a lock of an older activation's write, and would pin the slot meanwhile.
    private async Task ReloadProfileAsync(CancellationToken cancellationToken = default, bool first = false)
    {
        var read = _reloads.Start();
        // A flush written while the read was out may have counted snatches before or after the read's snapshot: the
        // read cannot say which, so its snatch count is not taken then.
        var flushQuietAtStart = _flush.IsCompleted;
        var flushWriteEventsAtStart = _flushWriteEvents;
        TorrentProfile? profile;
        using (first ? await firstReads.EnterAsync("torrent") : default(FirstReadGate.Slot?))
        {
            profile = await store.FindTorrentAsync(_infoHash, cancellationToken);
        }

        if (profile is not null && _epoch != 0 && profile.TorrentId != _torrentId && !_retiring)
        {
            // The site re-registered the info hash under another id. This swarm's peers and claim belong to the old one.
            _retiring = true;
            Log.TorrentIdChanged(logger, _infoHash.ToGrainKey(), _torrentId, profile.TorrentId);
            this.DeactivateOnIdle();
            return;
        }

        if (profile is not null && _epoch == 0)
        {
            if (_deactivating)
            {
                // A first read that outlived its activation: the next activation claims the swarm; a claim here would
                // only fence it.
                return;
            }

            // Only a registered torrent claims a swarm: junk info hashes leave no rows behind.
            await ClaimAsync(profile.TorrentId);
            _claiming = Task.CompletedTask;
        }

        if (_reloads.TryApply(read))
        {
            var noFlushOverlapped = flushQuietAtStart && _flushWriteEvents == flushWriteEventsAtStart;
            if (noFlushOverlapped || profile is null || _profile is null)
            {
                SetProfile(profile);
                _snatchesWrittenSinceLoad = 0;
            }
            else
            {
                // The count held (the last clean read's and what flushes counted since) stays; the rest of the profile
                // is the site's newest. A clean re-read soon takes the site's count: the held one misses what a resend
                // answered "applied before" counted, and the site may have changed it.
                SetProfile(profile with { Snatches = _profile.Snatches });
                _refreshDueAt = Math.Min(_refreshDueAt, NowMilliseconds() + Milliseconds(statsOptions.Value.FlushInterval));
                if (_schedule is not null)
                {
                    PublishSchedule();
                }
            }
        }

        if (read >= _changeReadFrom)
        {
            _changeReadFrom = 0;
            _failedChangeReads = 0;
        }
    }

    private void RetryRefreshSoon()
    {
        if (_changeReadFrom != 0)
        {
            // Doubling up to LongestChangedProfileRetry while the database stays away, each a little off, so the
            // swarms of a failed catch-up (every swarm of the silo) neither hammer it nor come back all at once.
            var retry = ChangedProfileRetry * Math.Pow(2, Math.Min(_failedChangeReads++, 8)) * (0.8 + (0.4 * Random.Shared.NextDouble()));
            var delay = retry < LongestChangedProfileRetry ? retry : LongestChangedProfileRetry;
            _refreshDueAt = Math.Min(_refreshDueAt, NowMilliseconds() + Milliseconds(delay));
            PublishSchedule();
        }
    }

    /// <summary>Claims the swarm and restores its stored peers; a reload overlapping the first shares its claim.</summary>
    private Task ClaimAsync(long torrentId)
    {
        if (_claiming is null || _claiming.IsFaulted || _claiming.IsCanceled)
        {
            _claiming = ClaimOnceAsync(torrentId);
        }

        return _claiming;
    }

    private async Task ClaimOnceAsync(long torrentId)
    {
        var claim = await store.ClaimSwarmAsync(torrentId, _infoHash);
        _swarm.Restore(claim.Peers, claim.Departures);
        _torrentId = torrentId;
        _epoch = claim.Epoch;
        if (_swarm.Count > 0 || _swarm.HasDepartures)
        {
            // Restored peers time out whether anyone announces or not: a swarm activated by a scrape, a change notice
            // or the orphaned-swarm sweep prunes them too, and so deletes the rows a lost activation left. They have a
            // peer timeout from now to announce first.
            var now = NowMilliseconds();
            _pruneNotBefore = now + Milliseconds(trackerOptions.Value.PeerTimeout);
            _pruneDueAt = Math.Min(_pruneDueAt, now + Milliseconds(trackerOptions.Value.PruneInterval));
            if (_schedule is not null)
            {
                // Claimed after the activation (the torrent was registered later): the sweeper must learn the new due time.
                PublishSchedule();
            }
        }
    }

    private void SetProfile(TorrentProfile? profile)
    {
        // Not before the claim: announces are accepted only once the swarm's stored peers are in memory.
        _profile = profile is not null && _epoch == 0 ? null : profile;
    }

    /// <summary>
    /// Flushes until everything accounted so far is written (a flush in progress first, then what came since), trying
    /// a failed write again after a pause, at most <paramref name="attempts"/> writes or until
    /// <paramref name="cancellationToken"/> (a deactivation's time) is up.
    /// </summary>
    private async Task FlushUntilWrittenAsync(int attempts, CancellationToken cancellationToken)
    {
        var pause = FirstRetryPause;
        for (var attempt = 0; attempt < attempts && !_fenced && (HasUnwritten || !_flush.IsCompleted) && !cancellationToken.IsCancellationRequested; attempt++)
        {
            await FlushCore();
            if (_outstanding is not null && _flush.IsCompleted)
            {
                // The write failed (its flush is still out): the same flush is resent after the pause.
                try
                {
                    await Task.Delay(pause, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                pause = pause * 2 < LongestRetryPause ? pause * 2 : LongestRetryPause;
            }
        }
    }

    /// <summary>At most one flush runs at a time; a caller arriving during one shares it.</summary>
    private Task FlushCore() => _flush.IsCompleted ? _flush = FlushOnceAsync() : _flush;

    private async Task FlushOnceAsync()
    {
        if (_epoch == 0 || _fenced)
        {
            return;
        }

        // Peers and ledger are cut in the same turn, so the flush stores exactly the baselines its credit ends at.
        if (_outstanding is null && HasSomethingToWrite())
        {
            _outstandingSince = _ledger.FirstRecordedAt;
            _outstandingBytes = _ledger.RawBytes;
            _outstanding = _ledger.Cut(_torrentId, _epoch, ++_sequence, _swarm.CutChanges(), _swarm.Seeders, _swarm.Leechers);
        }

        var flush = _outstanding;
        if (flush is null)
        {
            return;
        }

        FlushResult result;
        _flushWriteEvents++;
        try
        {
            result = await writer.WriteAsync(flush);
        }
        catch (Exception exception)
        {
            // Perhaps applied, perhaps not: resent unchanged next time, and the store applies it once.
            Log.FlushFailed(logger, exception, _infoHash.ToGrainKey());
            metrics.FlushToBeResent();
            return;
        }
        finally
        {
            _flushWriteEvents++;
        }

        _outstanding = null;
        _outstandingSince = long.MaxValue;
        _outstandingBytes = 0;
        if (result.Status == FlushStatus.Fenced)
        {
            // Another activation holds the swarm and restored its peers from the site: what this one accounted since
            // its last flush is credited there, from those peers' stored totals, when they next announce.
            _fenced = true;
            Log.Fenced(logger, _infoHash.ToGrainKey());
            this.DeactivateOnIdle();
            return;
        }

        _lastWrittenSeeders = flush.Torrent.Seeders;
        _lastWrittenLeechers = flush.Torrent.Leechers;
        // What the site counted, which can be fewer than the swarm did: after a restart the swarm no longer
        // knows which users have snatched already, and the site refuses their second snatch.
        _snatchesWrittenSinceLoad += result.SnatchesCounted;
    }

    private bool HasUnwritten => _outstanding is not null || HasSomethingToWrite();

    // Only a claimed swarm has anything to write: an unregistered info hash accepts no announce and stores nothing.
    private bool HasSomethingToWrite() =>
        _epoch != 0 && (!_ledger.IsEmpty || _swarm.HasChanges || _swarm.Seeders != _lastWrittenSeeders || _swarm.Leechers != _lastWrittenLeechers);

    private void ForgetIfUnregistered(long now)
    {
        // Junk info hashes must not hold memory for the long lifetime swarms get.
        // Not while a first read is out: it may claim the swarm and restore its peers.
        if (_profile is null && _swarm.Count == 0 && _ledger.IsEmpty && _outstanding is null && _firstRead.IsCompleted)
        {
            this.DeactivateOnIdle();
        }

        ScheduleForgetIfUnregistered(now);
    }

    private void ScheduleForgetIfUnregistered(long now) =>
        _forgetDueAt = _profile is null ? now + Milliseconds(siteOptions.Value.UnknownKeyLifetime) : long.MaxValue;

    // Every swarm has a prune due from its activation on, which is where an empty one leaves: nothing to schedule here.
    private void MarkServed() => _lastServedAt = NowMilliseconds();

    private TimeSpan SwarmLifetime => TrackerSiloBuilderExtensions.SwarmLifetime(trackerOptions.Value);

    /// <summary>
    /// An empty swarm leaves memory when nobody has announced to it or scraped it for its lifetime, or at once when
    /// only a change notice or the orphaned-swarm sweep activated it.
    /// </summary>
    private bool LeaveIfUnused()
    {
        // Not while a prune's deletions are unwritten (the database down): its deactivation's flush could fail too, and
        // the rows would stay until the orphaned-swarm sweep woke the swarm again.
        if (_swarm.Count == 0 && !_swarm.HasDepartures && _ledger.IsEmpty && _outstanding is null && !_swarm.HasChanges && _firstRead.IsCompleted
            && (_lastServedAt == 0 || NowMilliseconds() - _lastServedAt >= Milliseconds(SwarmLifetime)))
        {
            // Its deactivation writes the swarm's size if it never has.
            this.DeactivateOnIdle();
            return true;
        }

        return false;
    }

    private void PruneSilentPeers()
    {
        var now = time.GetUtcNow();
        _swarm.ForgetDepartures(now.Subtract(MaxAnnounceAge).ToUnixTimeSeconds());
        var peerTimeout = trackerOptions.Value.PeerTimeout;
        var removed = now.ToUnixTimeMilliseconds() < _pruneNotBefore ? 0 : _swarm.RemoveSilentPeers(now.Subtract(peerTimeout).ToUnixTimeSeconds());
        if (removed > 0)
        {
            Log.PrunedPeers(logger, _infoHash.ToGrainKey(), removed);
            ScheduleFlushIfUnwritten();
        }

        // Due again when the most silent peer times out or the oldest departure may be forgotten, whichever is first,
        // but never sooner than a prune interval from now. An empty swarm stays due, so it leaves once it may: when its
        // lifetime since it was last used is up, or (never used) as soon as nothing it holds is unwritten.
        var (oldestLastSeen, oldestDeparture) = _swarm.Oldest();
        var due = Math.Min(
            oldestLastSeen == long.MaxValue ? long.MaxValue : Math.Max((oldestLastSeen * 1000) + Milliseconds(peerTimeout), _pruneNotBefore),
            oldestDeparture == long.MaxValue ? long.MaxValue : (oldestDeparture * 1000) + Milliseconds(MaxAnnounceAge));
        if (oldestLastSeen == long.MaxValue && oldestDeparture == long.MaxValue)
        {
            due = _lastServedAt + Milliseconds(SwarmLifetime);
        }
        _pruneDueAt = Math.Max(due, now.ToUnixTimeMilliseconds() + Milliseconds(trackerOptions.Value.PruneInterval));
    }

    private void ScheduleAfterAnnounce(long now)
    {
        // The peer that announced times out no sooner than a peer timeout from now; a departure may be forgotten sooner.
        var tracker = trackerOptions.Value;
        var expiry = _swarm.HasDepartures && MaxAnnounceAge < tracker.PeerTimeout ? MaxAnnounceAge : tracker.PeerTimeout;
        _pruneDueAt = Math.Min(_pruneDueAt, now + Milliseconds(expiry));
        if (_flushDueAt == long.MaxValue)
        {
            _flushDueAt = now + Milliseconds(statsOptions.Value.FlushInterval);
        }

        PublishSchedule();
    }

    private void ScheduleFlushIfUnwritten()
    {
        // Only a claimed swarm writes: a junk info hash has nothing to.
        if (_flushDueAt == long.MaxValue && _epoch != 0 && !_fenced && HasUnwritten)
        {
            _flushDueAt = NowMilliseconds() + Milliseconds(statsOptions.Value.FlushInterval);
        }
    }

    private void PublishSchedule()
    {
        _schedule.DueAt = Math.Min(Math.Min(_flushDueAt, _pruneDueAt), Math.Min(_refreshDueAt, _forgetDueAt));
        _schedule.PublishSize(_swarm.Seeders, _swarm.Leechers);
        _schedule.PublishUnwritten(Math.Min(_outstandingSince, _ledger.FirstRecordedAt), _outstandingBytes + _ledger.RawBytes, HasUnwritten);
    }

    /// <summary>
    /// How often a swarm re-reads its torrent unasked: the site's refresh interval, give or take a tenth by the info
    /// hash's first two bytes. Swarms activated together (a cold start, a rolling restart) re-read spread over a fifth
    /// of the interval instead of all within the same minute an interval later.
    /// </summary>
    private static long SpreadRefreshInterval(TimeSpan interval, InfoHash infoHash)
    {
        Span<byte> bytes = stackalloc byte[Bytes20.Length];
        infoHash.Value.CopyTo(bytes);
        var position = BinaryPrimitives.ReadUInt16BigEndian(bytes) / (double)ushort.MaxValue;
        return (long)(interval.TotalMilliseconds * (0.9 + (0.2 * position)));
    }

    private long NowMilliseconds() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static long Milliseconds(TimeSpan span) => (long)span.TotalMilliseconds;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Torrent {InfoHash}: removed {Count} silent peers")]
        public static partial void PrunedPeers(ILogger logger, string infoHash, int count);

        // Debug: the writer logs a failed write once for all the swarms of its batch.
        [LoggerMessage(3, LogLevel.Debug, "Torrent {InfoHash}: statistics not written; the same flush is retried")]
        public static partial void FlushFailed(ILogger logger, Exception exception, string infoHash);

        [LoggerMessage(4, LogLevel.Warning, "Torrent {InfoHash}: deactivated with statistics not written; the site keeps these peers' earlier totals, so their next announces credit it")]
        public static partial void UsageLeftOnDeactivation(ILogger logger, string infoHash);

        [LoggerMessage(7, LogLevel.Information, "Torrent {InfoHash}: the site moved it from torrent id {OldId} to {NewId}; this swarm writes what it holds and deactivates")]
        public static partial void TorrentIdChanged(ILogger logger, string infoHash, long oldId, long newId);

        // Not the database away or slow (TorrentReadFailureLog): a bug, or the site's schema.
        [LoggerMessage(8, LogLevel.Error, "Torrent {InfoHash}: re-reading the torrent from the site failed; it keeps what it had until the next re-read")]
        public static partial void ReReadFailed(ILogger logger, Exception exception, string infoHash);

        [LoggerMessage(9, LogLevel.Error, "Torrent {InfoHash}: reading the torrent from the site failed")]
        public static partial void FirstReadFailed(ILogger logger, Exception exception, string infoHash);

        [LoggerMessage(6, LogLevel.Warning, "Torrent {InfoHash}: another activation has claimed this swarm; this one writes nothing more and deactivates")]
        public static partial void Fenced(ILogger logger, string infoHash);
    }
}
