using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>A user as the admin API shows it: the site's profile and the statistics written back so far.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.UserView")]
public sealed record UserView(
    [property: Id(0)] Passkey Passkey,
    [property: Id(1)] UserProfile Profile,
    [property: Id(2)] Traffic Traffic);
