namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>
/// Traffic one torrent grain accounted for one user since its last report. <see cref="Source"/> and
/// <see cref="Sequence"/> identify the report, so a retried delivery can be recognised.
/// </summary>
/// <param name="Source">The reporting torrent's grain key.</param>
/// <param name="Sequence">Increases by one per report from that source.</param>
/// <param name="UserId">The site's user id.</param>
/// <param name="Traffic">Raw and credited bytes.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.UsageReport")]
public sealed record UsageReport(
    [property: Id(0)] string Source,
    [property: Id(1)] long Sequence,
    [property: Id(2)] long UserId,
    [property: Id(3)] Traffic Traffic);
