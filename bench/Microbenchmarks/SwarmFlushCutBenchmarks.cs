using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// The snapshot a swarm hands to the database writer every flush interval: <see cref="Swarm.CutChanges"/> (the peers
/// changed since the last cut, as they are now) and <see cref="SwarmLedger.Cut"/> (the statistics credited from those
/// changes), taken together into one <see cref="SwarmFlush"/>. The swarm has 1,000 peers, of which 100 (10 %) sent a
/// regular announce since the last cut. The database write itself is not measured.
/// </summary>
/// <remarks>
/// A cut empties what it cuts, so every invocation needs a swarm with fresh changes: the iteration setup gives each of
/// <see cref="Swarms"/> swarms its 100 announces, and each invocation of the iteration cuts the next swarm.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(Swarms)]
public class SwarmFlushCutBenchmarks
{
    private const int Swarms = 256;
    private const int PeersPerSwarm = 1_000;
    private const int ChangedPerSwarm = 100;
    private const long Epoch = 7;

    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(FilledSwarm.Now);

    private readonly PeerSelection _noPeers = new();
    private FilledSwarm[] _swarms = [];
    private SwarmLedger[] _ledgers = [];
    private int _next;
    private long _round;
    private long _sequence;

    [GlobalSetup]
    public void Setup()
    {
        _swarms = [.. Enumerable.Range(0, Swarms).Select(seed => new FilledSwarm(PeersPerSwarm, seed))];
        _ledgers = new SwarmLedger[Swarms];
        _noPeers.Reset(0);
    }

    [IterationSetup]
    public void AnnounceSinceLastCut()
    {
        _round++;
        _next = 0;
        for (var s = 0; s < Swarms; s++)
        {
            var swarm = _swarms[s];
            var ledger = _ledgers[s] = new SwarmLedger();
            for (var peer = 0; peer < PeersPerSwarm; peer += PeersPerSwarm / ChangedPerSwarm)
            {
                var announce = swarm.Regular(peer, _round);
                var outcome = swarm.Swarm.Announce(announce, FilledSwarm.Now, Multipliers.Neutral, _noPeers);
                ledger.Record(announce.UserId, outcome, Now);
            }
        }
    }

    /// <summary>The whole cut, as the torrent grain takes it.</summary>
    [Benchmark(Baseline = true)]
    public int CutFlush()
    {
        var index = _next++;
        var swarm = _swarms[index].Swarm;
        var flush = _ledgers[index].Cut(FilledSwarm.TorrentId, Epoch, ++_sequence, swarm.CutChanges(), swarm.Seeders, swarm.Leechers);
        return flush.Peers.Present.Count + flush.History.Count;
    }

    /// <summary>The swarm's part alone: which peers to store.</summary>
    [Benchmark]
    public int CutPeerChanges() => _swarms[_next++].Swarm.CutChanges().Present.Count;
}
