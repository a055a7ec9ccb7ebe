using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One torrent's swarm. The announce runs in a single turn with no await, so peers, selection and
/// accounting never interleave and the grain needs no reentrancy. Traffic is handed on by a timer.
/// </summary>
internal sealed partial class TorrentGrain(
    [PersistentState("swarm", TrackerStorage.Grains)] IPersistentState<TorrentState> state,
    ISiteStore store,
    IOptions<TrackerOptions> trackerOptions,
    IOptions<StatsOptions> statsOptions,
    IOptions<SiteOptions> siteOptions,
    ClientAllowList clients,
    GrainPersistence persistence,
    LocalActivations activations,
    TimeProvider time,
    ILogger<TorrentGrain> logger) : Grain, ITorrentGrain
{
    private readonly Swarm _swarm = new(Random.Shared);
    private readonly PeerSelection _selection = new();
    private readonly ReloadOrder _reloads = new();
    private UsageLedger _ledger = null!;
    private InfoHash _infoHash;
    private TorrentProfile? _profile;
    // Kept after the site unregisters the torrent, so traffic accounted before that is still written.
    private long _torrentId;
    private long _snatchesWrittenSinceLoad;
    private Task _flush = Task.CompletedTask;
    // False while the grain has only been asked to reload: then it need not stay in memory afterwards.
    private bool _served;
    // Peers or accounting changed since the state was last written.
    private bool _dirty;
    // Storage holds a newer version than this activation knows: it must send nothing more and go.
    private bool _stale;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!InfoHash.TryParseHex(key, out _infoHash))
        {
            throw new InvalidOperationException($"Torrent grain key '{key}' is not 40 hex characters.");
        }

        // Before the profile is read, so a change notice arriving meanwhile still reaches this activation.
        activations.Add(LocalActivations.Torrent(key));

        if (state.State.Ledger is { } ledger)
        {
            // Back on this silo after a crash, a deactivation or a move: peers and unconfirmed statistics return.
            _ledger = UsageLedger.FromState(ledger);
            try
            {
                _swarm.Restore(state.State.Peers);
            }
            catch (InvalidDataException exception)
            {
                // Unreadable peers must not make the torrent unusable: they re-announce within an interval.
                Log.PeersNotRestored(logger, exception, key);
            }
        }
        else
        {
            // A source name of its own for this state's life: receivers tell batches apart by source and sequence.
            _ledger = new UsageLedger($"t:{key}#{Guid.NewGuid():N}");
        }

        await ReloadProfileAsync(cancellationToken);

        // Interleaved: announces keep flowing while a flush waits on user grains or the store.
        var flushInterval = statsOptions.Value.FlushInterval;
        this.RegisterGrainTimer(
            static (self, _) => self.FlushUsageCore(),
            this,
            new GrainTimerCreationOptions { DueTime = flushInterval, Period = flushInterval, Interleave = true });
        var prune = trackerOptions.Value.PruneInterval;
        this.RegisterGrainTimer(static (self, _) => self.PruneSilentPeers(), this, prune, prune);
        var unknownLifetime = siteOptions.Value.UnknownKeyLifetime;
        this.RegisterGrainTimer(static (self, _) => self.ForgetIfUnregistered(), this, unknownLifetime, unknownLifetime);
        var refresh = siteOptions.Value.RefreshInterval;
        // Interleaved: a slow or unreachable database must not hold announces back. It may then overlap a
        // notice's reload; _reloads keeps the answer of whichever read started last.
        this.RegisterGrainTimer(
            static (self, _) => self.ReloadProfileAsync(),
            this,
            new GrainTimerCreationOptions { DueTime = refresh, Period = refresh, Interleave = true });
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        activations.Remove(LocalActivations.Torrent(_infoHash.ToGrainKey()));
        await FlushEverythingAsync();
        if (_swarm.Count == 0 && _ledger.IsEmpty)
        {
            // Nothing left to remember: no row for a dead swarm.
            if (persistence.IsDurable && state.RecordExists)
            {
                await state.ClearStateAsync();
            }

            // Only once the clear has succeeded: now no storage holds this source or anything unconfirmed of it,
            // and the next activation starts a new one.
            await RetireSourceAsync();
            return;
        }

        if (!persistence.IsDurable)
        {
            // Nothing is kept, so the next activation starts a new source as well: this one can never send again.
            await RetireSourceAsync();
        }

        // Once more, so confirmed reports leave storage and the latest peers are kept.
        await PersistAsync();
        if (!_ledger.IsEmpty)
        {
            Log.UsageLeftOnDeactivation(logger, _infoHash.ToGrainKey());
        }
    }

    public ValueTask<AnnounceResult> Announce(AnnounceCommand command)
    {
        _served = true;
        if (!clients.IsAllowed(command.PeerId))
        {
            return ValueTask.FromResult(AnnounceResult.Refused(AnnounceStatus.ClientNotAllowed, null));
        }

        if (_profile is null)
        {
            return ValueTask.FromResult(AnnounceResult.Refused(AnnounceStatus.TorrentNotRegistered, null));
        }

        if (_profile.Status == TorrentStatus.Deleted)
        {
            return ValueTask.FromResult(AnnounceResult.Refused(AnnounceStatus.TorrentDeleted, _profile.DeletedReason));
        }

        _selection.Reset(command.NumWant, command.WantPeerIds);
        var announce = new PeerAnnounce(command.PeerId, command.Endpoint, command.Uploaded, command.Downloaded, command.Left, command.Event, command.UserId);
        var now = time.GetUtcNow();
        var outcome = _swarm.Announce(announce, now.ToUnixTimeSeconds(), _profile.For(command.UserId, command.UserMultipliers, now), _selection);
        _dirty = true;
        _ledger.Record(command.UserId, command.UserKey, _profile.TorrentId, outcome, now);

        return ValueTask.FromResult(new AnnounceResult(
            AnnounceStatus.Accepted,
            null,
            _swarm.Seeders,
            _swarm.Leechers,
            Snatches,
            _selection.Peers4ToArray(),
            _selection.Peers6ToArray(),
            _selection.Ids4ToArray(),
            _selection.Ids6ToArray()));
    }

    public ValueTask<TorrentCounts> Scrape()
    {
        _served = true;
        return ValueTask.FromResult(_profile is { Status: TorrentStatus.Active }
            ? new TorrentCounts(true, _swarm.Seeders, _swarm.Leechers, Snatches)
            : TorrentCounts.Unregistered);
    }

    public ValueTask<TorrentProfile?> GetProfile() => ValueTask.FromResult(_profile);

    public async ValueTask Refresh()
    {
        await ReloadProfileAsync();

        // A change notice for a torrent nobody is using must not keep a swarm grain in memory.
        if (!_served && _swarm.Count == 0 && _ledger.IsEmpty)
        {
            this.DeactivateOnIdle();
        }
    }

    public async ValueTask FlushUsage() => await FlushEverythingAsync();

    private long Snatches => (_profile?.Snatches ?? 0) + _snatchesWrittenSinceLoad + _ledger.UnwrittenSnatches;

    private async Task ReloadProfileAsync(CancellationToken cancellationToken = default)
    {
        var read = _reloads.Start();
        var profile = await store.FindTorrentAsync(_infoHash, cancellationToken);
        if (_reloads.TryApply(read))
        {
            SetProfile(profile);
            _snatchesWrittenSinceLoad = 0;
        }
    }

    private void SetProfile(TorrentProfile? profile)
    {
        _profile = profile;
        if (profile is not null)
        {
            _torrentId = profile.TorrentId;
        }
    }

    /// <summary>Waits for a flush in progress, then flushes whatever was accounted since it started.</summary>
    private async Task FlushEverythingAsync()
    {
        await FlushUsageCore();
        await FlushUsageCore();
    }

    /// <summary>At most one flush runs at a time; a caller arriving during one shares it.</summary>
    private Task FlushUsageCore() => _flush.IsCompleted ? _flush = FlushOnceAsync() : _flush;

    private async Task FlushOnceAsync()
    {
        var cut = _ledger.CutReports().Count > 0;
        var write = _torrentId > 0 ? _ledger.CutTorrentWrite(_torrentId, _swarm.Seeders, _swarm.Leechers) : null;

        // Cut, persist, then send: whatever is sent is already in storage, so after a crash the same
        // reports go out again with the same sequence numbers and receivers drop them as duplicates.
        if ((_dirty || cut || write is not null) && !await PersistAsync())
        {
            return;
        }

        await _ledger.DeliverAsync(
            async (userKey, report) =>
            {
                await GrainFactory.GetGrain<IUserGrain>(userKey).RecordUsage(report);
                // Confirmed: storage should forget it soon, not resend it on some later activation.
                _dirty = true;
            },
            (report, exception) => Log.ReportNotDelivered(logger, exception, _infoHash.ToGrainKey(), report.UserId));

        if (write is not null)
        {
            try
            {
                var snatchesCounted = await store.ApplyUsageAsync(write);
                _ledger.Written(write);
                _dirty = true;
                // What the site counted, which can be fewer than the swarm did: after a restart the swarm no longer
                // knows which users have snatched already, and the site refuses their second snatch.
                _snatchesWrittenSinceLoad += snatchesCounted;
            }
            catch (Exception exception)
            {
                Log.TorrentUsageNotWritten(logger, exception, _infoHash.ToGrainKey());
            }
        }
    }

    /// <summary>Writes peers and ledger; false (and logged) when storage is unavailable.</summary>
    private async Task<bool> PersistAsync()
    {
        _dirty = false;
        if (!persistence.IsDurable)
        {
            return true;
        }

        if (_stale)
        {
            return false;
        }

        state.State = new TorrentState { Peers = _swarm.ToSnapshot(), Ledger = _ledger.ToState() };
        try
        {
            await state.WriteStateAsync();
            return true;
        }
        catch (InconsistentStateException exception)
        {
            // A write whose answer was lost still landed, so this activation's version is behind storage
            // and every later write would fail too. Send nothing more; the next activation reads storage.
            _stale = true;
            Log.StateStale(logger, exception, _infoHash.ToGrainKey());
            this.DeactivateOnIdle();
            return false;
        }
        catch (Exception exception)
        {
            _dirty = true;
            Log.StateNotWritten(logger, exception, _infoHash.ToGrainKey());
            return false;
        }
    }

    /// <summary>Tells the site that this activation's source will send nothing more, so its row can go in time.</summary>
    private Task RetireSourceAsync() => _ledger.HasSent ? RetiredSources.TryRetireAsync(store, _ledger.Source, logger) : Task.CompletedTask;

    private Task ForgetIfUnregistered()
    {
        // Junk info hashes must not hold memory for the long lifetime swarms get.
        if (_profile is null && _swarm.Count == 0 && _ledger.IsEmpty)
        {
            this.DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    private Task PruneSilentPeers()
    {
        var cutoff = time.GetUtcNow().Subtract(trackerOptions.Value.PeerTimeout).ToUnixTimeSeconds();
        var removed = _swarm.RemoveSilentPeers(cutoff);
        if (removed > 0)
        {
            _dirty = true;
            Log.PrunedPeers(logger, _infoHash.ToGrainKey(), removed);
        }

        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Torrent {InfoHash}: removed {Count} silent peers")]
        public static partial void PrunedPeers(ILogger logger, string infoHash, int count);

        [LoggerMessage(2, LogLevel.Warning, "Torrent {InfoHash}: usage report for user {UserId} not delivered; it will be resent")]
        public static partial void ReportNotDelivered(ILogger logger, Exception exception, string infoHash, long userId);

        [LoggerMessage(3, LogLevel.Warning, "Torrent {InfoHash}: statistics not written; they will be retried")]
        public static partial void TorrentUsageNotWritten(ILogger logger, Exception exception, string infoHash);

        [LoggerMessage(4, LogLevel.Warning, "Torrent {InfoHash}: deactivated with statistics not yet confirmed; they are in its stored state")]
        public static partial void UsageLeftOnDeactivation(ILogger logger, string infoHash);

        [LoggerMessage(7, LogLevel.Error, "Torrent {InfoHash}: stored peers unreadable; starting with none")]
        public static partial void PeersNotRestored(ILogger logger, Exception exception, string infoHash);

        [LoggerMessage(6, LogLevel.Warning, "Torrent {InfoHash}: stored state is newer than this activation's; deactivating to reload it")]
        public static partial void StateStale(ILogger logger, Exception exception, string infoHash);

        [LoggerMessage(5, LogLevel.Warning, "Torrent {InfoHash}: state not written; statistics wait until storage is back")]
        public static partial void StateNotWritten(ILogger logger, Exception exception, string infoHash);

    }
}
