namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>
/// The swarm's answer to one announce. Peers arrive already packed, so the gateway copies bytes into
/// the reply instead of walking objects.
/// </summary>
/// <param name="Status">Accepted, or why not.</param>
/// <param name="Reason">The site's reason for a deleted torrent.</param>
/// <param name="Seeders">Seeders in the swarm after this announce.</param>
/// <param name="Leechers">Leechers in the swarm after this announce.</param>
/// <param name="Snatches">Completed downloads of the torrent.</param>
/// <param name="Peers4">IPv4 peers, 6 bytes each (BEP 23).</param>
/// <param name="Peers6">IPv6 peers, 18 bytes each (BEP 7).</param>
/// <param name="PeerIds4">When asked for, the 20-byte peer id of each IPv4 peer, in the same order.</param>
/// <param name="PeerIds6">When asked for, the 20-byte peer id of each IPv6 peer, in the same order.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.AnnounceResult")]
public sealed record AnnounceResult(
    [property: Id(0)] AnnounceStatus Status,
    [property: Id(1)] string? Reason,
    [property: Id(2)] int Seeders,
    [property: Id(3)] int Leechers,
    [property: Id(4)] long Snatches,
    [property: Id(5)] byte[] Peers4,
    [property: Id(6)] byte[] Peers6,
    [property: Id(7)] byte[]? PeerIds4,
    [property: Id(8)] byte[]? PeerIds6)
{
    /// <summary>A refusal with no swarm data.</summary>
    public static AnnounceResult Refused(AnnounceStatus status, string? reason) =>
        new(status, reason, 0, 0, 0, [], [], null, null);
}
