using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>What the tracker needs to know of a registered torrent.</summary>
/// <param name="TorrentId">The site's id of the torrent.</param>
/// <param name="Status">Whether announces are accepted.</param>
/// <param name="DeletedReason">The site's reason, shown to clients when <see cref="Status"/> is Deleted.</param>
/// <param name="Multipliers">The torrent's factors (freeleech, double upload).</param>
/// <param name="Snatches">Completed downloads the site had counted when the profile was read.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.TorrentProfile")]
public sealed record TorrentProfile(
    [property: Id(0)] long TorrentId,
    [property: Id(1)] TorrentStatus Status,
    [property: Id(2)] string? DeletedReason,
    [property: Id(3)] Multipliers Multipliers,
    [property: Id(4)] long Snatches);
