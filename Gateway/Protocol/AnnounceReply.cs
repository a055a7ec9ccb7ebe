using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>Everything one successful announce reply says.</summary>
internal readonly record struct AnnounceReply(
    AnnounceResult Result,
    int IntervalSeconds,
    int MinIntervalSeconds,
    bool Compact,
    string? Warning);
