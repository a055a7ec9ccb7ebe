using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// What the swarm needs of one announce: the peer's report plus who it belongs to, and when the gateway received
/// it (<c>ReceivedAt</c>, Unix microseconds), which orders a peer's announces.
/// </summary>
internal readonly record struct PeerAnnounce(
    PeerId PeerId,
    PeerEndpoint Endpoint,
    long Uploaded,
    long Downloaded,
    long Left,
    AnnounceEvent Event,
    long UserId,
    long ReceivedAt = 0)
{
    public bool IsSeeder => Left == 0;

    /// <summary>
    /// Handed leechers only: a seeder, or a partial seed (BEP 21 <c>event=paused</c>: it has what it selected of the
    /// torrent, downloads nothing more, and only uploads), to which a seeder is of no use.
    /// </summary>
    public bool WantsLeechersOnly => Left == 0 || Event == AnnounceEvent.Paused;
}
