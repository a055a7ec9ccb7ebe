using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// The two keys the gateway derives from every announce between parsing it and calling the torrent's grain: the user's (the passkey's SHA-256 digest, a 32-byte value) and the grain's (the info hash as hex).
/// </summary>
[MemoryDiagnoser]
public class GrainKeyBenchmarks
{
    private readonly string _passkey = "0123456789abcdef0123456789abcdef";
    private InfoHash _infoHash;

    // The load generator's first info hash (bench/load/announce.lua dump=hashes).
    [GlobalSetup]
    public void Setup() => InfoHash.TryParseHex("a6553b5589feed376373c7ee50ccd1e0e916a6ac", out _infoHash);

    [Benchmark]
    public UserKey UserKeyFromPasskey() => Passkey.UserKeyOf(_passkey);

    [Benchmark]
    public string TorrentKeyFromInfoHash() => _infoHash.ToGrainKey();
}
