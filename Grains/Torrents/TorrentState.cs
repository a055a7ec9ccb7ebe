using Chihaya.Orleans.Grains.Accounting;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// What a swarm keeps in grain storage so it survives its silo: its peers with their last totals (so a
/// restored swarm neither forgets peers nor credits traffic twice) and the statistics not yet handed on.
/// </summary>
[GenerateSerializer, Alias("Chihaya.TorrentState")]
internal sealed class TorrentState
{
    /// <summary>The peers as a <see cref="SwarmSnapshot"/> block.</summary>
    [Id(0)] public byte[] Peers { get; set; } = [];

    [Id(1)] public UsageLedgerState? Ledger { get; set; }
}
