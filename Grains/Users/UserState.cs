using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Site;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// What a user grain keeps in grain storage: traffic received from swarms and not yet written to the site,
/// the batch being written, and the last report seen from each swarm (so a resent report is not counted twice).
/// </summary>
[GenerateSerializer, Alias("Chihaya.UserState")]
internal sealed class UserState
{
    [Id(0)] public string Source { get; set; } = "";

    [Id(1)] public long Sequence { get; set; }

    [Id(2)] public Dictionary<long, Traffic> Pending { get; set; } = [];

    [Id(3)] public UsageWrite? OutstandingWrite { get; set; }

    [Id(4)] public Dictionary<string, SourceMark> LastReports { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>The last report sequence seen from one swarm, and when.</summary>
[GenerateSerializer, Immutable, Alias("Chihaya.SourceMark")]
internal readonly record struct SourceMark([property: Id(0)] long Sequence, [property: Id(1)] DateTimeOffset SeenAt);
