using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Announce;

/// <summary>The handler's answer: a reply, or the failure reason to send instead.</summary>
internal readonly record struct AnnounceResponse(AnnounceReply Reply, string? Failure)
{
    public static AnnounceResponse Fail(string reason) => new(default, reason);
}
