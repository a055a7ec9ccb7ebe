using System.Diagnostics;
using System.Net;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>rTorrent, configured by an rc file that also loads and starts the torrent.</summary>
internal sealed class RtorrentClient(string folder, IPAddress address, ClientRole role) : TorrentClient(folder, address, role)
{
    protected override ProcessStartInfo Prepare(string torrentFile)
    {
        var session = Path.Combine(Folder, "session");
        Directory.CreateDirectory(session);
        var configuration = Path.Combine(Folder, "rtorrent.rc");
        File.WriteAllText(configuration, $"""
            # Daemon mode: no curses interface, so no terminal is needed.
            system.daemon.set = true
            session.path.set = {session}
            directory.default.set = {DataFolder}
            network.port_range.set = {PeerPort}-{PeerPort}
            network.port_random.set = no
            # Also the source address of its tracker requests, so the tracker sees this client's own address.
            network.bind_address.set = {Address}
            dht.mode.set = disable
            protocol.pex.set = no
            trackers.use_udp.set = no
            # Accepts and tries encrypted connections but falls back to plain ones, as the other clients do.
            protocol.encryption.set = allow_incoming,try_outgoing,enable_retry
            log.open_file = rtorrent, {Path.Combine(Folder, "rtorrent.log")}
            log.add_output = info, rtorrent
            log.add_output = tracker_debug, rtorrent
            load.start_verbose = {torrentFile}
            """);

        // -n: no ~/.rtorrent.rc, only the file above.
        return new ProcessStartInfo("rtorrent", ["-n", "-o", $"import={configuration}"]);
    }
}
