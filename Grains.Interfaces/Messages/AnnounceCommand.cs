using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>
/// One announce, sent by a gateway to the torrent's grain, which checks the user in its silo's directory of users: the
/// whole announce is this one call.
/// </summary>
/// <param name="PeerId">The client's peer id.</param>
/// <param name="Endpoint">Where other peers reach it: the socket address (or a trusted proxy's header) and its port.</param>
/// <param name="Uploaded">Total uploaded this session, as the client reports it.</param>
/// <param name="Downloaded">Total downloaded this session, as the client reports it.</param>
/// <param name="Left">Bytes still missing; 0 means seeder.</param>
/// <param name="Event">The announce event.</param>
/// <param name="NumWant">How many peers to return (already capped by the gateway).</param>
/// <param name="WantPeerIds">True for the non-compact reply that lists peer ids.</param>
/// <param name="User">The announcing user: the digest of the passkey the request came with.</param>
/// <param name="ReceivedAt">
/// When the gateway received the request, in Unix microseconds: the same for every try of it. A swarm applies a
/// peer's announces in this order only, so a try that arrives late (held up while a silo was cut off, then
/// rerouted) cannot take the peer's totals back and have its traffic credited again.
/// </param>
[GenerateSerializer, Immutable, Alias("Chihaya.AnnounceCommand")]
public sealed record AnnounceCommand(
    [property: Id(0)] PeerId PeerId,
    [property: Id(1)] PeerEndpoint Endpoint,
    [property: Id(2)] long Uploaded,
    [property: Id(3)] long Downloaded,
    [property: Id(4)] long Left,
    [property: Id(5)] AnnounceEvent Event,
    [property: Id(6)] int NumWant,
    [property: Id(7)] bool WantPeerIds,
    [property: Id(12)] UserKey User,
    [property: Id(11)] long ReceivedAt);
