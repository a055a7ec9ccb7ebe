using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// One passkey. Caches the site's user behind it (or its absence, so junk passkeys cost one store
/// read per activation) and sums the user's traffic from all its swarms into one write per interval.
/// Its key is the passkey's digest, so no grain id or Orleans message can reveal the passkey.
/// </summary>
internal sealed partial class UserGrain(
    ISiteStore store,
    IOptions<StatsOptions> statsOptions,
    IOptions<SiteOptions> siteOptions,
    ILogger<UserGrain> logger) : Grain, IUserGrain
{
    private readonly Dictionary<long, Traffic> _pending = [];
    private readonly Dictionary<string, long> _lastSequenceBySource = new(StringComparer.Ordinal);
    private UserProfile? _profile;
    private UsageWrite? _outstandingWrite;
    private string _source = "";
    // False while the grain has only been asked to reload: then it need not stay in memory afterwards.
    private bool _served;
    private long _sequence;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _profile = await store.FindUserAsync(this.GetPrimaryKeyString(), cancellationToken);
        _source = $"u:{_profile?.UserId ?? 0}#{Guid.NewGuid():N}";
        var interval = statsOptions.Value.FlushInterval;
        this.RegisterGrainTimer(static (self, _) => self.FlushCore(), this, interval, interval);
        var unknownLifetime = siteOptions.Value.UnknownKeyLifetime;
        this.RegisterGrainTimer(static (self, _) => self.ForgetIfUnknown(), this, unknownLifetime, unknownLifetime);
        var refresh = siteOptions.Value.RefreshInterval;
        this.RegisterGrainTimer(static (self, _) => self.ReloadProfileAsync(), this, refresh, refresh);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await FlushCore();
        if (_outstandingWrite is not null || _pending.Count > 0)
        {
            Log.UsageLeftOnDeactivation(logger, _profile?.UserId ?? 0);
        }
    }

    public ValueTask<UserProfile?> GetProfile()
    {
        _served = true;
        return ValueTask.FromResult(_profile);
    }

    public ValueTask RecordUsage(UsageReport report)
    {
        if (_lastSequenceBySource.TryGetValue(report.Source, out var last) && last >= report.Sequence)
        {
            return ValueTask.CompletedTask;
        }

        _lastSequenceBySource[report.Source] = report.Sequence;
        _pending[report.UserId] = _pending.GetValueOrDefault(report.UserId) + report.Traffic;
        return ValueTask.CompletedTask;
    }

    public async ValueTask Refresh()
    {
        await ReloadProfileAsync();
        if (!_served && _pending.Count == 0 && _outstandingWrite is null)
        {
            this.DeactivateOnIdle();
        }
    }

    private async Task ReloadProfileAsync() => _profile = await store.FindUserAsync(this.GetPrimaryKeyString());

    public async ValueTask FlushUsage() => await FlushCore();

    private Task ForgetIfUnknown()
    {
        if (_profile is null && _pending.Count == 0 && _outstandingWrite is null)
        {
            this.DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    private async Task FlushCore()
    {
        if (_outstandingWrite is null && _pending.Count > 0)
        {
            _outstandingWrite = new UsageWrite(_source, ++_sequence, [.. _pending.Select(p => new UserUsage(p.Key, p.Value))], []);
            _pending.Clear();
        }

        if (_outstandingWrite is null)
        {
            return;
        }

        try
        {
            // Resent unchanged until it succeeds, so an unclear failure cannot count it twice.
            await store.ApplyUsageAsync(_outstandingWrite);
            _outstandingWrite = null;
        }
        catch (Exception exception)
        {
            Log.UsageNotWritten(logger, exception, _profile?.UserId ?? 0);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "User {UserId}: statistics not written; they will be retried")]
        public static partial void UsageNotWritten(ILogger logger, Exception exception, long userId);

        [LoggerMessage(2, LogLevel.Error, "User {UserId}: deactivated with statistics not yet written")]
        public static partial void UsageLeftOnDeactivation(ILogger logger, long userId);
    }
}
