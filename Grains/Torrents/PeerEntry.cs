using System.Runtime.InteropServices;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// One peer as the swarm stores it: a value in a dense array, so a swarm of N peers is one allocation,
/// not N objects. Holds the last totals the peer reported, which turn its next totals into deltas.
/// Laid out in 76 bytes (the fields in this order, 4-byte packing, the two flags in the endpoint's padding): a swarm's
/// memory is mostly these.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct PeerEntry
{
    public PeerId PeerId;
    public PeerEndpoint Endpoint;
    /// <summary>The peer has completed the download here: it never counts a snatch again (nor does its user).</summary>
    public bool HasSnatched;
    /// <summary>
    /// Added or changed since the swarm's last cut: the next write to the site stores it. A flag here instead of a set
    /// of keys beside the swarm, which cost about 50 bytes a peer and a hash per announce. Never stored.
    /// </summary>
    public bool IsChanged;
    public long Uploaded;
    public long Downloaded;
    public long UserId;
    /// <summary>When the gateway received the last applied announce (Unix microseconds, the gateway's clock).</summary>
    public long ReceivedAt;
    // Seconds since the Unix epoch fit 32 bits until 2106.
    private uint _lastSeen;

    /// <summary>Seconds since the Unix epoch of the last accepted announce.</summary>
    public long LastSeen
    {
        readonly get => _lastSeen;
        set => _lastSeen = checked((uint)value);
    }
}
