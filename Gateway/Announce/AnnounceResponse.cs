using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>The handler's answer: a reply, or the failure reason to send instead, and how it counts.</summary>
internal readonly record struct AnnounceResponse(AnnounceReply Reply, string? Failure, RequestOutcome Outcome)
{
    public static AnnounceResponse Fail(string reason, RequestOutcome outcome) => new(default, reason, outcome);
}
