using System.Security.Cryptography;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// A single-file private torrent as a site hands it out: the announce URL carries the user's passkey, and
/// <c>private=1</c> makes clients take peers from the tracker alone (no DHT, PEX or local discovery).
/// </summary>
internal sealed record PrivateTorrent(byte[] Contents, byte[] InfoHash)
{
    private const int PieceLength = 256 * 1024;

    public string InfoHashHex => Convert.ToHexStringLower(InfoHash);

    public static PrivateTorrent Create(string fileName, byte[] payload, Uri announceUrl)
    {
        var pieceCount = (payload.Length + PieceLength - 1) / PieceLength;
        var pieces = new byte[pieceCount * SHA1.HashSizeInBytes];
        for (var piece = 0; piece < pieceCount; piece++)
        {
            var start = piece * PieceLength;
            SHA1.HashData(
                payload.AsSpan(start, Math.Min(PieceLength, payload.Length - start)),
                pieces.AsSpan(piece * SHA1.HashSizeInBytes, SHA1.HashSizeInBytes));
        }

        var info = new Dictionary<string, object>
        {
            ["name"] = fileName,
            ["length"] = (long)payload.Length,
            ["piece length"] = PieceLength,
            ["pieces"] = pieces,
            ["private"] = 1,
        };
        var contents = new Dictionary<string, object> { ["announce"] = announceUrl.ToString(), ["info"] = info };

        // The encoding is canonical, so the info dictionary hashes to the same bytes the file holds.
        return new PrivateTorrent(Bencode.Encode(contents), SHA1.HashData(Bencode.Encode(info)));
    }
}
