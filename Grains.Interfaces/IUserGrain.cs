using Chihaya.Orleans.Grains.Interfaces.Messages;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// One passkey: caches the site's user behind it. Keyed by the passkey's digest
/// (<see cref="Model.Passkey.ToUserKey"/>), never by the passkey itself. Reads only touch memory, so they interleave.
/// </summary>
[Alias("Chihaya.IUserGrain")]
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>The user behind this passkey, or null when the site knows no such passkey.</summary>
    [Alias("GetProfile")]
    [AlwaysInterleave]
    ValueTask<UserProfile?> GetProfile();

    /// <summary>Reloads the site's profile of the user (called after the site changed it).</summary>
    [Alias("Refresh")]
    [AlwaysInterleave]
    ValueTask Refresh();
}
