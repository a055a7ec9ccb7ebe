using Chihaya.Orleans.Grains.Interfaces.Messages;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// One passkey: caches the site's user behind it and collects the user's traffic for write-back. Keyed by
/// the passkey's digest (<see cref="Model.Passkey.ToUserKey"/>), never by the passkey itself.
/// Reads and reports never wait behind a write to the site: both only touch memory, so they interleave.
/// </summary>
[Alias("Chihaya.IUserGrain")]
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>The user behind this passkey, or null when the site knows no such passkey.</summary>
    [Alias("GetProfile")]
    [AlwaysInterleave]
    ValueTask<UserProfile?> GetProfile();

    /// <summary>Adds one torrent's report of the user's traffic; a report already received is ignored.</summary>
    [Alias("RecordUsage")]
    [AlwaysInterleave]
    ValueTask RecordUsage(UsageReport report);

    /// <summary>Reloads the site's profile of the user (called after the site changed it).</summary>
    [Alias("Refresh")]
    [AlwaysInterleave]
    ValueTask Refresh();

    /// <summary>Writes collected traffic to the site now instead of at the next timer tick.</summary>
    [Alias("FlushUsage")]
    ValueTask FlushUsage();
}
