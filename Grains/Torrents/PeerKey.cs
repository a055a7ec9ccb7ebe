using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// A peer's identity in a swarm: its peer id within its user. Peer ids are visible to other peers,
/// so keying by the id alone would let one user stop or take over another user's peer.
/// </summary>
internal readonly record struct PeerKey(PeerId PeerId, long UserId);
