using System.Net;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>An announce's query parameters, decoded and checked (BEP 3, 7, 23).</summary>
internal struct AnnounceQuery
{
    public InfoHash InfoHash;
    public PeerId PeerId;
    public int Port;
    public long Uploaded;
    public long Downloaded;
    public long Left;
    public AnnounceEvent Event;
    /// <summary>The client's <c>numwant</c>, or -1 when it sent none.</summary>
    public int NumWant;
    public bool Compact;
    public bool NoPeerId;
    /// <summary>BEP 7 <c>ipv4</c>/<c>ipv6</c> (or <c>ip</c>), parsed only when the gateway trusts them.</summary>
    public IPAddress? ClaimedIPv4;
    public IPAddress? ClaimedIPv6;
    /// <summary>The client sent an address parameter that the gateway does not trust.</summary>
    public bool IgnoredClaimedAddress;
}
