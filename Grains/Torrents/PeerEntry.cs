using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One peer as the swarm stores it: a value in a dense array, so a swarm of N peers is one allocation,
/// not N objects. Holds the last totals the peer reported, which turn its next totals into deltas.
/// </summary>
internal struct PeerEntry
{
    public PeerId PeerId;
    public PeerEndpoint Endpoint;
    public long Uploaded;
    public long Downloaded;
    public long UserId;
    /// <summary>Seconds since the Unix epoch of the last accepted announce.</summary>
    public long LastSeen;
    /// <summary>When the gateway received the last applied announce (Unix microseconds, the gateway's clock).</summary>
    public long ReceivedAt;
    /// <summary>The peer has completed the download here: it never counts a snatch again (nor does its user).</summary>
    public bool HasSnatched;
}
