using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// <see cref="Swarm.Announce"/> of a regular announce (no event) with numwant 50, the load generator's and the tracker's
/// default: the swarm picks the reply's peers into a reused <see cref="PeerSelection"/>, then updates the announcer's
/// entry and works out its traffic. The announcer is a peer already in the swarm, as in the load generator's regular
/// announces (about 92 % of its traffic, see bench/README.md).
/// </summary>
[MemoryDiagnoser]
public class PeerSelectionBenchmarks
{
    private const int NumWant = 50;

    // Announcers, taken in turn and spread over the swarm: about as many as a large swarm hears between two flushes, so
    // its set of peers to write stays as small as it is between two cuts (nothing cuts it here).
    private const int Announcers = 256;

    private readonly PeerSelection _selection = new();
    private FilledSwarm _swarm = null!;
    private int[] _leechers = [];
    private int[] _seeders = [];
    private long _round;

    [Params(1_000, 100_000)]
    public int Peers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _swarm = new FilledSwarm(Peers, seed: 1);
        _leechers = FilledSwarm.Spread(_swarm.Leechers, Announcers);
        _seeders = FilledSwarm.Spread(_swarm.Seeders, Announcers);

        // Every swarm here has enough peers of each role for a full reply.
        if (LeecherAnnounce() != NumWant || SeederAnnounce() != NumWant)
        {
            throw new InvalidOperationException("An announce got fewer peers than it wanted.");
        }
    }

    /// <summary>A leecher gets seeders first, then other leechers.</summary>
    [Benchmark(Baseline = true)]
    public int LeecherAnnounce() => Announce(_leechers);

    /// <summary>A seeder gets leechers only.</summary>
    [Benchmark]
    public int SeederAnnounce() => Announce(_seeders);

    /// <summary>
    /// The leecher's announce plus what the torrent grain does with the selection afterwards: copies it out into the
    /// <see cref="AnnounceResult"/> that crosses the grain boundary.
    /// </summary>
    [Benchmark]
    public AnnounceResult LeecherAnnounceWithResult()
    {
        Announce(_leechers);
        var swarm = _swarm.Swarm;
        return new AnnounceResult(
            AnnounceStatus.Accepted,
            null,
            swarm.Seeders,
            swarm.Leechers,
            Snatches: 0,
            _selection.Peers4ToArray(),
            _selection.Peers6ToArray(),
            _selection.Ids4ToArray(),
            _selection.Ids6ToArray());
    }

    private int Announce(int[] announcers)
    {
        var round = ++_round;
        var peer = announcers[(int)(round % announcers.Length)];
        _selection.Reset(NumWant);
        _swarm.Swarm.Announce(_swarm.Regular(peer, round), FilledSwarm.Now, Multipliers.Neutral, _selection);
        return _selection.Count4 + _selection.Count6;
    }
}
