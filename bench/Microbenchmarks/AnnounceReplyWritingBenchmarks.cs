using System.Text;
using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// <see cref="AnnounceReplyWriter.Write"/>: a successful announce's bencoded reply of 50 peers, written into a
/// buffer of <see cref="AnnounceReplyWriter.MaxSize"/> bytes (the endpoint rents one from the pool; here it is
/// allocated once). The compact form is what every common client asks for.
/// </summary>
[MemoryDiagnoser]
public class AnnounceReplyWritingBenchmarks
{
    private const int Peers = 50;
    private const int IntervalSeconds = 1800;
    private const int MinIntervalSeconds = 900;

    private byte[] _buffer = [];
    private AnnounceReply _compactIPv4;
    private AnnounceReply _compactMixed;
    private AnnounceReply _dictionaryIPv4;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        var ipv4 = Entries(random, Peers, addressLength: 4);
        var ids = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, Peers).Select(peer => $"-qB4650-{peer:D12}")));
        _compactIPv4 = Reply(ipv4, [], null, compact: true);
        _compactMixed = Reply(Entries(random, 40, addressLength: 4), Entries(random, 10, addressLength: 16), null, compact: true);
        _dictionaryIPv4 = Reply(ipv4, [], ids, compact: false);
        _buffer = new byte[new[] { _compactIPv4, _compactMixed, _dictionaryIPv4 }.Max(reply => AnnounceReplyWriter.MaxSize(reply))];
    }

    /// <summary>BEP 23: 50 IPv4 peers as one 300-byte string.</summary>
    [Benchmark(Baseline = true)]
    public int Compact50IPv4() => AnnounceReplyWriter.Write(_buffer, _compactIPv4);

    /// <summary>40 IPv4 peers in <c>peers</c> and 10 IPv6 peers in <c>peers6</c> (BEP 7).</summary>
    [Benchmark]
    public int Compact40IPv4And10IPv6() => AnnounceReplyWriter.Write(_buffer, _compactMixed);

    /// <summary>The original dictionary model (<c>compact=0</c>, peer ids wanted): a dictionary per peer with its address as text.</summary>
    [Benchmark]
    public int Dictionary50IPv4WithPeerIds() => AnnounceReplyWriter.Write(_buffer, _dictionaryIPv4);

    private static AnnounceReply Reply(byte[] peers4, byte[] peers6, byte[]? ids, bool compact)
    {
        var ids4 = ids?[..(peers4.Length / 6 * 20)];
        var result = new AnnounceResult(AnnounceStatus.Accepted, null, 700, 300, 1234, peers4, peers6, ids4, ids is null ? null : []);
        return new AnnounceReply(result, IntervalSeconds, MinIntervalSeconds, compact, Warning: null);
    }

    /// <summary>Packed peers as the swarm writes them: address, then port, big-endian. IPv6 addresses are in 2001:db8::/32.</summary>
    private static byte[] Entries(Random random, int count, int addressLength)
    {
        var entries = new byte[count * (addressLength + 2)];
        random.NextBytes(entries);
        if (addressLength == 16)
        {
            for (var offset = 0; offset < entries.Length; offset += 18)
            {
                entries[offset] = 0x20;
                entries[offset + 1] = 0x01;
                entries[offset + 2] = 0x0D;
                entries[offset + 3] = 0xB8;
            }
        }

        return entries;
    }
}
