using System.Text;
using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Gateway.Http;
using Chihaya.Orleans.Gateway.Protocol;
using Microsoft.AspNetCore.Http;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// <see cref="AnnounceQueryParser.TryParse"/>: an announce's raw query, still percent-encoded, into an
/// <see cref="AnnounceQuery"/>. Every query here is valid and parses.
/// </summary>
[MemoryDiagnoser]
public class AnnounceQueryParsingBenchmarks
{
    /// <summary>
    /// A regular announce shaped as bench/load/announce.lua sends it: libtorrent's parameters in libtorrent's order,
    /// the load's first info hash (20 random bytes, 14 of them escaped), a qBittorrent 4.6.5 peer id (all unreserved
    /// characters, so sent as it is), 128 KiB multiples as totals.
    /// </summary>
    private const string LibtorrentQuery =
        "info_hash=%A6U%3BU%89%FE%ED7cs%C7%EEP%CC%D1%E0%E9%16%A6%AC&peer_id=-qB4650-R2kV9dXq0LmT&port=1042"
        + "&uploaded=48234496&downloaded=117440512&left=2030043136&corrupt=0&key=5E0C7A91"
        + "&numwant=50&compact=1&no_peer_id=1&supportcrypto=1&redundant=0";

    /// <summary>
    /// aria2 1.36.0's <c>started</c> announce from tests/Gateway.Tests/Protocol/TestData/captured-announces.txt: its peer
    /// id has 10 binary bytes after the client prefix, each escaped, and 15 of its info hash's 20 bytes are escaped.
    /// </summary>
    private const string BinaryPeerIdQuery =
        "info_hash=%DF%05%D2%7BZ%05Km%A1S_%15%86%AD%C6%D1%C3%B7%91%A0&peer_id=A2-1-36-0-%EA%8B%1C%D1%F1%2F%AF%C0%90%2B"
        + "&uploaded=0&downloaded=0&left=0&compact=1&key=%1C%D1%F1%2F%AF%C0%90%2B&numwant=50&no_peer_id=1&port=50109"
        + "&event=started&supportcrypto=1";

    // GatewayOptions.MaxQueryLength's default.
    private const int MaxQueryLength = 8192;

    private readonly byte[] _libtorrent = Encoding.ASCII.GetBytes(LibtorrentQuery);
    private readonly byte[] _binaryPeerId = Encoding.ASCII.GetBytes(BinaryPeerIdQuery);
    private readonly HttpRequest _request = new DefaultHttpContext().Request;

    [GlobalSetup]
    public void Setup()
    {
        _request.QueryString = new QueryString("?" + LibtorrentQuery);

        // A query the parser refused would measure the failure path instead.
        if (LibtorrentRegular() < 0 || BinaryPeerIdStarted() < 0 || LibtorrentFromHttpRequest() < 0)
        {
            throw new InvalidOperationException("A benchmark query no longer parses.");
        }
    }

    [Benchmark(Baseline = true)]
    public long LibtorrentRegular() => Parse(_libtorrent);

    [Benchmark]
    public long BinaryPeerIdStarted() => Parse(_binaryPeerId);

    /// <summary>
    /// The same libtorrent query as the announce endpoint gets it: <see cref="RawQuery.TryParse"/> copies the request's
    /// query string into a pooled buffer as bytes, then runs the parser there.
    /// </summary>
    [Benchmark]
    public long LibtorrentFromHttpRequest()
    {
        var ok = RawQuery.TryParse(
            _request,
            MaxQueryLength,
            false,
            static (bool trust, ReadOnlySpan<byte> raw, out AnnounceQuery parsed, out string? reason) =>
                AnnounceQueryParser.TryParse(raw, trust, out parsed, out reason),
            out var query,
            out _);
        return ok ? query.Left : -1;
    }

    private static long Parse(byte[] query) =>
        AnnounceQueryParser.TryParse(query, trustClaimedAddresses: false, out var parsed, out _) ? parsed.Left : -1;
}
