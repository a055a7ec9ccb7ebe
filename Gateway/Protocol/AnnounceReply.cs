using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>
/// The gateway's answer to a client's announce: what an accepted one's bencoded reply says (the swarm's
/// <see cref="AnnounceResult"/>, the intervals, the peer format, a warning), or the failure reason sent instead; and how
/// it counts in the metrics.
/// </summary>
internal readonly record struct AnnounceReply(
    AnnounceResult Result,
    int IntervalSeconds,
    int MinIntervalSeconds,
    bool Compact,
    string? Warning,
    string? Failure = null,
    RequestOutcome Outcome = RequestOutcome.Accepted)
{
    /// <summary>A refusal: the client is sent <paramref name="reason"/> as its failure reason.</summary>
    public static AnnounceReply Refused(string reason, RequestOutcome outcome) => new(default!, 0, 0, false, null, reason, outcome);
}
