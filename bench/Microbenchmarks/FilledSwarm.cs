using System.Net;
using System.Text;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// A swarm filled the way the load generator fills one (bench/load/announce.lua): 70 % seeders, each peer with a
/// qBittorrent-style peer id, its own IPv4 address and its own user, joined by one <c>started</c> announce. Benchmarks
/// then send regular announces of its peers with totals that only grow, so every one credits traffic and none reads
/// as a client restart.
/// </summary>
internal sealed class FilledSwarm
{
    /// <summary>The swarm's clock, in seconds since the Unix epoch. Fixed: time plays no part in the costs measured.</summary>
    public const long Now = 1_800_000_000;

    /// <summary>The torrent's site id, for the ledger.</summary>
    public const long TorrentId = 42;

    private const double SeederShare = 0.7;

    // Traffic between two announces of a peer: 2 MiB up, and 2 MiB down for a leecher (the load generator moves totals
    // in 128 KiB steps).
    private const long Step = 2L << 20;

    private readonly PeerAnnounce[] _joined;

    /// <param name="peers">How many peers join.</param>
    /// <param name="seed">Seeds the draw of which peers seed, and the swarm's random selection windows.</param>
    public FilledSwarm(int peers, int seed)
    {
        var random = new Random(seed);
        Swarm = new Swarm(new Random(seed));
        _joined = new PeerAnnounce[peers];
        var seeders = new List<int>();
        var leechers = new List<int>();
        var noPeers = new PeerSelection();
        noPeers.Reset(0);
        for (var i = 0; i < peers; i++)
        {
            var seeder = random.NextDouble() < SeederShare;
            var left = seeder ? 0 : 1L << 30;
            _joined[i] = new PeerAnnounce(PeerIdOf(i), EndpointOf(i), 0, 0, left, AnnounceEvent.Started, UserId: i + 1);
            Swarm.Announce(_joined[i], Now, Multipliers.Neutral, noPeers);
            (seeder ? seeders : leechers).Add(i);
        }

        Seeders = [.. seeders];
        Leechers = [.. leechers];

        // As after a flush: nothing waits to be written.
        Swarm.CutChanges();
    }

    public Swarm Swarm { get; }

    /// <summary>The indexes of the peers that joined as seeders.</summary>
    public int[] Seeders { get; }

    /// <summary>The indexes of the peers that joined as leechers.</summary>
    public int[] Leechers { get; }

    /// <summary>
    /// Peer <paramref name="index"/>'s regular announce of <paramref name="round"/>: its totals grow with the round, so
    /// a peer's rounds must grow too. A leecher downloads but never finishes, so no peer changes role.
    /// </summary>
    public PeerAnnounce Regular(int index, long round)
    {
        var joined = _joined[index];
        return joined with
        {
            Event = AnnounceEvent.None,
            Uploaded = round * Step,
            Downloaded = joined.IsSeeder ? 0 : round * Step,
        };
    }

    /// <summary>Every <paramref name="count"/>-th of <paramref name="indexes"/>, spread evenly over them.</summary>
    public static int[] Spread(int[] indexes, int count)
    {
        var stride = Math.Max(1, indexes.Length / count);
        return [.. indexes.Where((_, position) => position % stride == 0).Take(count)];
    }

    /// <summary>libtorrent's form: the client's 8-character prefix, then 12 alphanumerics (digits here, unique per peer).</summary>
    private static PeerId PeerIdOf(int index) => PeerId.Read(Encoding.ASCII.GetBytes($"-qB4650-{index:D12}"));

    private static PeerEndpoint EndpointOf(int index)
    {
        var address = new IPAddress([10, (byte)(index >> 16), (byte)(index >> 8), (byte)index]);
        return PeerEndpoint.From(address, 1025 + (index % 60_000));
    }
}
