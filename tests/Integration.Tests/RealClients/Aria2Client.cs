using System.Diagnostics;
using System.Net;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>aria2c, which takes the torrent on its command line.</summary>
internal sealed class Aria2Client(string folder, IPAddress address, ClientRole role) : TorrentClient(folder, address, role)
{
    // On SIGTERM aria2 shuts down at once without announcing event=stopped; SIGINT is its graceful stop.
    protected override int GracefulStopSignal => GracefulStop.Interrupt;

    protected override ProcessStartInfo Prepare(string torrentFile)
    {
        List<string> arguments =
        [
            "--no-conf=true",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--disable-ipv6=true",
            // Binds the tracker requests too, so the tracker sees this client's own address.
            $"--interface={Address}",
            $"--listen-port={PeerPort}",
            // Seeds until stopped, so a finished leecher serves the others and announces event=completed;
            // with --seed-time=0 it would exit on completion without announcing it.
            "--seed-ratio=0.0",
            "--file-allocation=none",
            "--check-integrity=false",
            $"--dir={DataFolder}",
            $"--log={Path.Combine(Folder, "aria2.log")}",
            "--log-level=info",
            "--enable-color=false",
        ];
        if (Role == ClientRole.Seeder)
        {
            // The payload is known to be whole: no need to hash it before seeding.
            arguments.Add("--bt-seed-unverified=true");
        }

        arguments.Add($"--torrent-file={torrentFile}");
        return new ProcessStartInfo("aria2c", arguments);
    }
}
