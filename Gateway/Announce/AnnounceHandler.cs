using System.Net;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>
/// Turns a parsed announce into one call to the torrent's grain, which checks the user (in its silo's directory of
/// users), the torrent and the client in a fixed order, then updates the swarm and accounts the traffic. Every
/// refusal is a failure reason for the client.
/// </summary>
internal sealed class AnnounceHandler(
    TorrentGrainReferences swarms,
    ClusterRetry retry,
    UnknownKeys unknownKeys,
    UnknownPasskeyLimit unknownPasskeys,
    IOptionsMonitor<TrackerOptions> trackerOptions,
    TimeProvider time)
{
    // The answers this gateway gives from its memory of unknown keys; told apart by reference, so they are not
    // remembered again (an entry would then never end while a client kept announcing).
    private static readonly AnnounceResult RememberedUnknownPasskey = AnnounceResult.Refused(AnnounceStatus.UnknownPasskey, null);
    private static readonly AnnounceResult RememberedUnregistered = AnnounceResult.Refused(AnnounceStatus.TorrentNotRegistered, null);

    /// <summary>
    /// Sends the announce to its swarm (again while a silo is gone or the swarm moved). Not an async method of its own:
    /// it hands on the cluster retry's call, so only the caller's state machine and the retry's are kept across the
    /// grain call (each one was a few hundred bytes an announce).
    /// </summary>
    public ValueTask<AnnounceResult> AnnounceAsync(UserKey user, in AnnounceQuery query, PeerEndpoint endpoint)
    {
        // The passkey first, as the swarm checks it. A remembered torrent is refused before the swarm's other checks
        // (may leech, client), so such an announce may be told "not registered" where the swarm would name another
        // refusal: a refusal either way.
        if (unknownKeys.IsUnknownPasskey(user))
        {
            return ValueTask.FromResult(RememberedUnknownPasskey);
        }

        if (unknownKeys.IsUnregistered(query.InfoHash))
        {
            return ValueTask.FromResult(RememberedUnregistered);
        }

        var tracker = trackerOptions.CurrentValue;
        var numWant = query.Event == AnnounceEvent.Stopped ? 0
            : query.NumWant < 0 ? tracker.DefaultNumWant
            : Math.Min(query.NumWant, tracker.MaxNumWant);
        var command = new AnnounceCommand(
            query.PeerId,
            endpoint,
            query.Uploaded,
            query.Downloaded,
            query.Left,
            query.Event,
            numWant,
            WantPeerIds: !query.Compact && !query.NoPeerId,
            user,
            UnixMicroseconds.From(time.GetUtcNow()));

        return retry.CallAsync(
            (Swarm: swarms.For(query.InfoHash), Command: command),
            static call => call.Swarm.Announce(call.Command),
            static result => result.Status == AnnounceStatus.SwarmMoved);
    }

    /// <summary>
    /// What the client is sent for the swarm's answer (to <paramref name="passkey"/> and <paramref name="infoHash"/>):
    /// peers, or a failure reason for every refusal. Remembers a key the site does not know, and counts a passkey new to
    /// that memory against <paramref name="client"/>, the announcer's address as resolved (<see cref="UnknownPasskeyLimit"/>). Takes the passkey, not
    /// its digest, which only a refusal needs: the announce's state kept across the grain call stays small.
    /// </summary>
    public AnnounceReply Reply(AnnounceResult result, string passkey, InfoHash infoHash, bool compact, string? warning, IPAddress? client)
    {
        // Counted against the client's address once a passkey (not once an announce: a client starts many at once).
        if (result.Status == AnnounceStatus.UnknownPasskey && !ReferenceEquals(result, RememberedUnknownPasskey)
            && unknownKeys.RememberUnknownPasskey(Passkey.UserKeyOf(passkey)))
        {
            unknownPasskeys.Count(client);
        }
        else if (result.Status == AnnounceStatus.TorrentNotRegistered && !ReferenceEquals(result, RememberedUnregistered))
        {
            unknownKeys.RememberUnregistered(infoHash);
        }

        var tracker = trackerOptions.CurrentValue;
        return result.Status switch
        {
            AnnounceStatus.Accepted => new AnnounceReply(result, Seconds(tracker.AnnounceInterval), Seconds(tracker.MinAnnounceInterval), compact, warning),
            AnnounceStatus.TorrentDeleted => AnnounceReply.Refused(
                string.IsNullOrWhiteSpace(result.Reason) ? TrackerFailure.TorrentDeleted : TrackerFailure.TorrentDeletedPrefix + result.Reason,
                RequestOutcome.Deleted),
            AnnounceStatus.ClientNotAllowed => AnnounceReply.Refused(TrackerFailure.ClientNotAllowed, RequestOutcome.ClientNotAllowed),
            AnnounceStatus.UnknownPasskey => AnnounceReply.Refused(TrackerFailure.UnknownPasskey, RequestOutcome.UnknownPasskey),
            AnnounceStatus.LeechingNotAllowed => AnnounceReply.Refused(TrackerFailure.LeechingNotAllowed, RequestOutcome.LeechNotAllowed),
            AnnounceStatus.SwarmMoved or AnnounceStatus.TooOld => AnnounceReply.Refused(TrackerFailure.Internal, RequestOutcome.Unavailable),
            _ => AnnounceReply.Refused(TrackerFailure.TorrentNotRegistered, RequestOutcome.Unregistered),
        };
    }

    private static int Seconds(TimeSpan interval) => (int)interval.TotalSeconds;
}
