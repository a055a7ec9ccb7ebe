using System.Diagnostics;
using System.Net;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// libtorrent-rasterbar through its python binding (<c>libtorrent_client.py</c>). Debian installs the binding
/// for the system python only, hence <c>/usr/bin/python3</c> rather than whichever python3 comes first on PATH.
/// </summary>
internal sealed class LibtorrentClient(string folder, IPAddress address, ClientRole role) : TorrentClient(folder, address, role)
{
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "RealClients", "libtorrent_client.py");

    protected override ProcessStartInfo Prepare(string torrentFile) => new("/usr/bin/python3",
    [
        Script,
        "--torrent", torrentFile,
        "--save-path", DataFolder,
        "--address", Address.ToString(),
        "--port", PeerPort.ToString(),
        "--log", Path.Combine(Folder, "libtorrent.log"),
    ]);
}
