using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// One passkey. Caches the site's user behind it (or its absence, so junk passkeys cost one store
/// read per activation). Its key is the passkey's digest, so no grain id or Orleans message can reveal
/// the passkey. Statistics do not pass through it: swarms write them to the site with their peers.
/// </summary>
internal sealed class UserGrain(ISiteStore store, IOptions<SiteOptions> siteOptions, LocalActivations activations) : Grain, IUserGrain
{
    private readonly ReloadOrder _reloads = new();
    private UserProfile? _profile;
    // False while the grain has only been asked to reload: then it need not stay in memory afterwards.
    private bool _served;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Before the profile is read, so a change notice arriving meanwhile still reaches this activation.
        activations.Add(LocalActivations.User(this.GetPrimaryKeyString()));
        await ReloadProfileAsync(cancellationToken);

        var unknownLifetime = siteOptions.Value.UnknownKeyLifetime;
        this.RegisterGrainTimer(static (self, _) => self.ForgetIfUnknown(), this, unknownLifetime, unknownLifetime);
        var refresh = siteOptions.Value.RefreshInterval;
        // Interleaved, so a slow database holds no announce back; _reloads keeps an overlapping notice's newer answer.
        this.RegisterGrainTimer(
            static (self, _) => self.ReloadProfileAsync(),
            this,
            new GrainTimerCreationOptions { DueTime = refresh, Period = refresh, Interleave = true });
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        activations.Remove(LocalActivations.User(this.GetPrimaryKeyString()));
        return Task.CompletedTask;
    }

    public ValueTask<UserProfile?> GetProfile()
    {
        _served = true;
        return ValueTask.FromResult(_profile);
    }

    public async ValueTask Refresh()
    {
        await ReloadProfileAsync();
        if (!_served)
        {
            this.DeactivateOnIdle();
        }
    }

    private async Task ReloadProfileAsync(CancellationToken cancellationToken = default)
    {
        var read = _reloads.Start();
        var profile = await store.FindUserAsync(this.GetPrimaryKeyString(), cancellationToken);
        if (_reloads.TryApply(read))
        {
            _profile = profile;
        }
    }

    private Task ForgetIfUnknown()
    {
        if (_profile is null)
        {
            this.DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }
}
