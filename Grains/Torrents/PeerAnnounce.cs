using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>What the swarm needs of one announce: the peer's report plus who it belongs to.</summary>
internal readonly record struct PeerAnnounce(
    PeerId PeerId,
    PeerEndpoint Endpoint,
    long Uploaded,
    long Downloaded,
    long Left,
    AnnounceEvent Event,
    long UserId)
{
    public bool IsSeeder => Left == 0;
}
