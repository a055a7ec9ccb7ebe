using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// One passkey. Caches the site's user behind it (or its absence, so junk passkeys cost one store
/// read per activation) and sums the user's traffic from all its swarms into one write per interval.
/// Its key is the passkey's digest, so no grain id or Orleans message can reveal the passkey.
/// A report is confirmed to its swarm only once it is in grain storage, so no crash can lose it.
/// </summary>
internal sealed partial class UserGrain : Grain, IUserGrain
{
    // A swarm resends an unconfirmed report at its next activation, which has no time limit; but it
    // confirms within one flush interval unless its silo dies in between. Marks outlive that by far.
    private static readonly TimeSpan SourceMarkLifetime = TimeSpan.FromDays(90);

    private readonly IPersistentState<UserState> _state;
    private readonly ISiteStore _store;
    private readonly IOptions<StatsOptions> _statsOptions;
    private readonly IOptions<SiteOptions> _siteOptions;
    private readonly TimeProvider _time;
    private readonly ILogger<UserGrain> _logger;
    private readonly GroupCommit _commit;
    private readonly LocalActivations _activations;
    private readonly bool _durable;
    private readonly ReloadOrder _reloads = new();
    private UserProfile? _profile;
    // The live state; storage gets a copy, so a write in progress never sees a change half-made.
    private UserState _live = new();
    // False while the grain has only been asked to reload: then it need not stay in memory afterwards.
    private bool _served;

    public UserGrain(
        [PersistentState("user", TrackerStorage.Grains)] IPersistentState<UserState> state,
        ISiteStore store,
        IOptions<StatsOptions> statsOptions,
        IOptions<SiteOptions> siteOptions,
        GrainPersistence persistence,
        LocalActivations activations,
        TimeProvider time,
        ILogger<UserGrain> logger)
    {
        _activations = activations;
        _state = state;
        _store = store;
        _statsOptions = statsOptions;
        _siteOptions = siteOptions;
        _time = time;
        _logger = logger;
        _durable = persistence.IsDurable;
        _commit = new GroupCommit(persistence.IsDurable ? WriteStateAsync : static () => Task.CompletedTask);
    }

    private UserState State => _live;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Before the profile is read, so a change notice arriving meanwhile still reaches this activation.
        _activations.Add(LocalActivations.User(this.GetPrimaryKeyString()));
        await ReloadProfileAsync(cancellationToken);
        _live = Copy(_state.State, DateTimeOffset.MinValue);
        if (State.Source.Length == 0)
        {
            State.Source = $"u:{_profile?.UserId ?? 0}#{Guid.NewGuid():N}";
        }

        var interval = _statsOptions.Value.FlushInterval;
        this.RegisterGrainTimer(static (self, _) => self.FlushCore(), this, interval, interval);
        var unknownLifetime = _siteOptions.Value.UnknownKeyLifetime;
        this.RegisterGrainTimer(static (self, _) => self.ForgetIfUnknown(), this, unknownLifetime, unknownLifetime);
        var refresh = _siteOptions.Value.RefreshInterval;
        // Interleaved, so a slow database holds no announce back; _reloads keeps an overlapping notice's newer answer.
        this.RegisterGrainTimer(
            static (self, _) => self.ReloadProfileAsync(),
            this,
            new GrainTimerCreationOptions { DueTime = refresh, Period = refresh, Interleave = true });
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _activations.Remove(LocalActivations.User(this.GetPrimaryKeyString()));
        await FlushCore();
        if (State.OutstandingWrite is not null || State.Pending.Count > 0)
        {
            Log.UsageLeftOnDeactivation(_logger, _profile?.UserId ?? 0);
        }

        try
        {
            await _commit.CommitAsync();
        }
        catch (Exception exception)
        {
            Log.StateNotWritten(_logger, exception, _profile?.UserId ?? 0);
        }

        // With durable storage the source is kept with the state, one per user for good. Without, the next
        // activation starts a new one, so this one can never send again and the site may forget it in time.
        if (!_durable && State.Sequence > 0)
        {
            await RetiredSources.TryRetireAsync(_store, State.Source, _logger);
        }
    }

    public ValueTask<UserProfile?> GetProfile()
    {
        _served = true;
        return ValueTask.FromResult(_profile);
    }

    public async ValueTask RecordUsage(UsageReport report)
    {
        var marks = State.LastReports;
        if (!marks.TryGetValue(report.Source, out var last) || last.Sequence < report.Sequence)
        {
            marks[report.Source] = new SourceMark(report.Sequence, _time.GetUtcNow());
            State.Pending[report.UserId] = State.Pending.GetValueOrDefault(report.UserId) + report.Traffic;
        }

        // A duplicate waits too: the report it repeats may still be on its way to storage.
        try
        {
            await _commit.CommitAsync();
        }
        catch (InconsistentStateException)
        {
            // Not confirmed, so the swarm resends it to the next activation, which reads storage afresh.
            this.DeactivateOnIdle();
            throw;
        }
    }

    public async ValueTask Refresh()
    {
        await ReloadProfileAsync();
        if (!_served && State.Pending.Count == 0 && State.OutstandingWrite is null)
        {
            this.DeactivateOnIdle();
        }
    }

    public async ValueTask FlushUsage() => await FlushCore();

    private async Task ReloadProfileAsync(CancellationToken cancellationToken = default)
    {
        var read = _reloads.Start();
        var profile = await _store.FindUserAsync(this.GetPrimaryKeyString(), cancellationToken);
        if (_reloads.TryApply(read))
        {
            _profile = profile;
        }
    }

    private Task ForgetIfUnknown()
    {
        if (_profile is null && State.Pending.Count == 0 && State.OutstandingWrite is null)
        {
            this.DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    private async Task FlushCore()
    {
        if (State.OutstandingWrite is null && State.Pending.Count > 0)
        {
            State.OutstandingWrite = new UsageWrite(State.Source, ++State.Sequence, [.. State.Pending.Select(p => new UserUsage(p.Key, p.Value))], []);
            State.Pending.Clear();
        }

        if (State.OutstandingWrite is not { } write)
        {
            return;
        }

        try
        {
            // Cut, persist, then write: a batch applied to the site is always one storage remembers.
            await _commit.CommitAsync();
            await _store.ApplyUsageAsync(write);
            State.OutstandingWrite = null;
        }
        catch (InconsistentStateException exception)
        {
            // Storage is ahead of this activation (a write's answer was lost): let the next one read it.
            Log.UsageNotWritten(_logger, exception, _profile?.UserId ?? 0);
            this.DeactivateOnIdle();
        }
        catch (Exception exception)
        {
            Log.UsageNotWritten(_logger, exception, _profile?.UserId ?? 0);
        }
    }

    private Task WriteStateAsync()
    {
        // Writes never overlap (GroupCommit runs them one after another), so the copy stays put until done.
        _state.State = Copy(_live, _time.GetUtcNow() - SourceMarkLifetime);
        return _state.WriteStateAsync();
    }

    private static UserState Copy(UserState state, DateTimeOffset forgetMarksBefore) => new()
    {
        Source = state.Source,
        Sequence = state.Sequence,
        Pending = new(state.Pending),
        OutstandingWrite = state.OutstandingWrite,
        LastReports = new(state.LastReports.Where(mark => mark.Value.SeenAt > forgetMarksBefore), StringComparer.Ordinal),
    };

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "User {UserId}: statistics not written; they will be retried")]
        public static partial void UsageNotWritten(ILogger logger, Exception exception, long userId);

        [LoggerMessage(2, LogLevel.Warning, "User {UserId}: deactivated with statistics not yet written; they are in its stored state")]
        public static partial void UsageLeftOnDeactivation(ILogger logger, long userId);

        [LoggerMessage(3, LogLevel.Warning, "User {UserId}: state not written")]
        public static partial void StateNotWritten(ILogger logger, Exception exception, long userId);

    }
}
