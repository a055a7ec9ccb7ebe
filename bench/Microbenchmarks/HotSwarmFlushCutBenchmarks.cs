using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// A hot swarm's flush: one swarm of 100,000 peers, every one of which announced since the last cut (at the hot-swarm
/// bench's 50,000 announces a second, every peer announces within a 5 s flush interval). The cut is the part of a flush
/// that runs in the swarm's own turn, so its time is how long a flush holds the swarm's announces back (the database
/// write runs outside the turn). Each peer is its own user here, so the ledger cuts 100,000 history rows: the worst
/// case, more than the bench's 1,000 users give.
/// </summary>
/// <remarks>One cut per iteration: the iteration setup makes every peer announce again, outside what is measured.</remarks>
[MemoryDiagnoser]
[InvocationCount(1)]
public class HotSwarmFlushCutBenchmarks
{
    private const int Peers = 100_000;
    private const long Epoch = 7;

    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(FilledSwarm.Now);

    private readonly PeerSelection _noPeers = new();
    // One ledger throughout, as a busy swarm keeps its own (cleared after each cut, not made anew).
    private readonly SwarmLedger _ledger = new();
    private FilledSwarm _swarm = null!;
    private long _round;
    private long _sequence;

    [GlobalSetup]
    public void Setup()
    {
        _swarm = new FilledSwarm(Peers, seed: 1);
        _noPeers.Reset(0);
    }

    [IterationSetup]
    public void EveryPeerAnnouncedSinceLastCut()
    {
        _round++;
        for (var peer = 0; peer < Peers; peer++)
        {
            var announce = _swarm.Regular(peer, _round);
            var outcome = _swarm.Swarm.Announce(announce, FilledSwarm.Now, Multipliers.Neutral, _noPeers);
            _ledger.Record(announce.UserId, outcome, Now);
        }
    }

    /// <summary>The whole cut, as the torrent grain takes it in its turn.</summary>
    [Benchmark(Baseline = true)]
    public int CutFlush()
    {
        var swarm = _swarm.Swarm;
        var flush = _ledger.Cut(FilledSwarm.TorrentId, Epoch, ++_sequence, swarm.CutChanges(), swarm.Seeders, swarm.Leechers);
        if (flush.Peers.Present.Count != Peers)
        {
            throw new InvalidOperationException($"the cut holds {flush.Peers.Present.Count} peers, not the {Peers} that announced");
        }

        return flush.Peers.Present.Count + flush.History.Count;
    }

    /// <summary>The swarm's part alone: which peers to store (the ledger's cut is the rest).</summary>
    [Benchmark]
    public int CutPeerChanges() => _swarm.Swarm.CutChanges().Present.Count;
}
