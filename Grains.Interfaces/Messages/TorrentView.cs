using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>A torrent as the admin API shows it: the site's profile, written-back statistics and the live swarm.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.TorrentView")]
public sealed record TorrentView(
    [property: Id(0)] InfoHash InfoHash,
    [property: Id(1)] TorrentProfile Profile,
    [property: Id(2)] Traffic Traffic,
    [property: Id(3)] TorrentCounts Swarm);
