using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One torrent's swarm. The announce runs in a single turn with no await, so peers, selection and
/// accounting never interleave and the grain needs no reentrancy. Traffic is handed on by a timer.
/// </summary>
internal sealed partial class TorrentGrain(
    ISiteStore store,
    IOptions<TrackerOptions> trackerOptions,
    IOptions<StatsOptions> statsOptions,
    IOptions<SiteOptions> siteOptions,
    ClientAllowList clients,
    TimeProvider time,
    ILogger<TorrentGrain> logger) : Grain, ITorrentGrain
{
    private readonly Swarm _swarm = new(Random.Shared);
    private readonly PeerSelection _selection = new();
    private UsageLedger _ledger = null!;
    private InfoHash _infoHash;
    private TorrentProfile? _profile;
    // Kept after the site unregisters the torrent, so traffic accounted before that is still written.
    private long _torrentId;
    private long _snatchesWrittenSinceLoad;
    private Task _flush = Task.CompletedTask;
    // False while the grain has only been asked to reload: then it need not stay in memory afterwards.
    private bool _served;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!InfoHash.TryParseHex(key, out _infoHash))
        {
            throw new InvalidOperationException($"Torrent grain key '{key}' is not 40 hex characters.");
        }

        // A new name per activation: the store tells batches apart by source and sequence.
        _ledger = new UsageLedger($"t:{key}#{Guid.NewGuid():N}");
        SetProfile(await store.FindTorrentAsync(_infoHash, cancellationToken));

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
        this.RegisterGrainTimer(static (self, _) => self.ReloadProfileAsync(), this, refresh, refresh);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await FlushEverythingAsync();
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

    private async Task ReloadProfileAsync()
    {
        SetProfile(await store.FindTorrentAsync(_infoHash));
        _snatchesWrittenSinceLoad = 0;
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
        await _ledger.DeliverAsync(
            (userKey, report) => GrainFactory.GetGrain<IUserGrain>(userKey).RecordUsage(report).AsTask(),
            (report, exception) => Log.ReportNotDelivered(logger, exception, _infoHash.ToGrainKey(), report.UserId));

        if (_torrentId > 0 && _ledger.CutTorrentWrite(_torrentId, _swarm.Seeders, _swarm.Leechers) is { } write)
        {
            try
            {
                await store.ApplyUsageAsync(write);
                _ledger.Written(write);
                _snatchesWrittenSinceLoad += write.Torrents.Sum(torrent => torrent.Snatches);
            }
            catch (Exception exception)
            {
                Log.TorrentUsageNotWritten(logger, exception, _infoHash.ToGrainKey());
            }
        }
    }

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

        [LoggerMessage(4, LogLevel.Error, "Torrent {InfoHash}: deactivated with statistics not yet handed on")]
        public static partial void UsageLeftOnDeactivation(ILogger logger, string infoHash);
    }
}
