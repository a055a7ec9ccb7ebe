using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>
/// The private-tracker checks, in a fixed order, then the swarm: passkey → may leech → torrent (in its
/// grain) → swarm update and accounting (in its grain). Every refusal is a failure reason for the client.
/// </summary>
internal sealed class AnnounceHandler(IGrainFactory grains, ClusterRetry retry, IOptionsMonitor<TrackerOptions> trackerOptions, TimeProvider time)
{
    public async ValueTask<AnnounceResponse> HandleAsync(string passkey, AnnounceQuery query, PeerEndpoint endpoint, string? warning)
    {
        var receivedAt = time.GetUtcNow();
        var userKey = Passkey.UserKeyOf(passkey);
        var user = await retry.CallAsync(() => grains.GetGrain<IUserGrain>(userKey).GetProfile());
        if (user is null)
        {
            return AnnounceResponse.Fail(TrackerFailure.UnknownPasskey);
        }

        // A user who may not leech can still seed, and can still leave a swarm cleanly.
        if (!user.CanLeech && query.Left > 0 && query.Event != AnnounceEvent.Stopped)
        {
            return AnnounceResponse.Fail(TrackerFailure.LeechingNotAllowed);
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
            user.UserId,
            user.MultipliersAt(receivedAt),
            UnixMicroseconds.From(receivedAt));

        var swarm = grains.GetGrain<ITorrentGrain>(query.InfoHash.ToGrainKey());
        var result = await retry.CallAsync(() => swarm.Announce(command), static result => result.Status == AnnounceStatus.SwarmMoved);
        return result.Status switch
        {
            AnnounceStatus.Accepted => new AnnounceResponse(
                new AnnounceReply(result, Seconds(tracker.AnnounceInterval), Seconds(tracker.MinAnnounceInterval), query.Compact, warning),
                null),
            AnnounceStatus.TorrentDeleted => AnnounceResponse.Fail(string.IsNullOrWhiteSpace(result.Reason)
                ? TrackerFailure.TorrentDeleted
                : TrackerFailure.TorrentDeletedPrefix + result.Reason),
            AnnounceStatus.ClientNotAllowed => AnnounceResponse.Fail(TrackerFailure.ClientNotAllowed),
            AnnounceStatus.SwarmMoved or AnnounceStatus.TooOld => AnnounceResponse.Fail(TrackerFailure.Internal),
            _ => AnnounceResponse.Fail(TrackerFailure.TorrentNotRegistered),
        };
    }

    private static int Seconds(TimeSpan interval) => (int)interval.TotalSeconds;
}
