using System.Collections.Immutable;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>What the tracker needs to know of a registered torrent.</summary>
/// <param name="TorrentId">The site's id of the torrent.</param>
/// <param name="Status">Whether announces are accepted.</param>
/// <param name="DeletedReason">The site's reason, shown to clients when <see cref="Status"/> is Deleted.</param>
/// <param name="Multipliers">The torrent's factors (freeleech, double upload).</param>
/// <param name="Snatches">Completed downloads the site had counted when the profile was read.</param>
/// <param name="FreeleechTokens">Users holding a freeleech token for this torrent, with its expiry.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.TorrentProfile")]
public sealed record TorrentProfile(
    [property: Id(0)] long TorrentId,
    [property: Id(1)] TorrentStatus Status,
    [property: Id(2)] string? DeletedReason,
    [property: Id(3)] Multipliers Multipliers,
    [property: Id(4)] long Snatches,
    [property: Id(5)] ImmutableDictionary<long, DateTimeOffset>? FreeleechTokens = null)
{
    /// <summary>
    /// The factors for one user's traffic at <paramref name="now"/>: the user's times the torrent's, with no
    /// download credit while the user holds an unexpired freeleech token for it.
    /// </summary>
    public Multipliers For(long userId, Multipliers user, DateTimeOffset now)
    {
        var combined = user.Times(Multipliers);
        return FreeleechTokens is not null && FreeleechTokens.TryGetValue(userId, out var until) && now < until
            ? combined with { Download = 0m }
            : combined;
    }
}
