using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>What the tracker needs to know of a site user: read from the site, never written by the tracker.</summary>
/// <param name="UserId">The site's id of the user; statistics are credited to it.</param>
/// <param name="Multipliers">The user's own factors (personal freeleech, bonuses).</param>
/// <param name="CanLeech">False when the site forbids downloading; seeding stays allowed.</param>
/// <param name="FreeleechUntil">Personal freeleech: downloads are not credited before this time.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.UserProfile")]
public sealed record UserProfile(
    [property: Id(0)] long UserId,
    [property: Id(1)] Multipliers Multipliers,
    [property: Id(2)] bool CanLeech,
    [property: Id(3)] DateTimeOffset? FreeleechUntil = null)
{
    /// <summary>The user's factors at <paramref name="now"/>: personal freeleech zeroes the download factor while it lasts.</summary>
    public Multipliers MultipliersAt(DateTimeOffset now) =>
        FreeleechUntil is { } until && now < until ? Multipliers with { Download = 0m } : Multipliers;
}
