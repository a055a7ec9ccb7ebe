using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Chihaya.Orleans.Integration.Tests.Http;
using Chihaya.Orleans.TestSupport;
using Xunit.Abstractions;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// One download through the tracker with real clients: a new random payload and private torrent, registered
/// with the tracker before any client starts; a seeder, which the tracker must list before the leechers
/// start, so they get it as a peer in their first answer; then all leechers, until each holds the payload.
/// Every client is stopped gracefully at the end so the tracker gets its last announce. The run's folder is
/// removed when the run succeeds and kept, with the tails of the client logs written to the test output,
/// when it fails.
/// </summary>
internal sealed class RealClientSwarm(TrackerHost tracker, ITestOutputHelper output, int payloadBytes)
{
    private const string PayloadFileName = "payload.bin";
    private const int LogTailLines = 30;

    /// <summary>Covers qBittorrent's start-up (its WebUI) on a busy machine.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan DownloadTimeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// How long finished leechers get to announce <c>event=completed</c> before they are stopped; it ends
    /// early once the tracker counts them all as seeders (rTorrent does not send completed at all).
    /// </summary>
    private static readonly TimeSpan CompletedGrace = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Hashing every leecher's 20 MiB takes a while: checked less often, it leaves the cores to the clients.</summary>
    private static readonly TimeSpan HashPollDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Runs <paramref name="spec"/>, <c>SEEDER-LEECHER[+LEECHER...]</c> with the clients <c>aria2</c>,
    /// <c>qbit</c>, <c>rtorrent</c> and <c>lt</c>; <c>swarm</c> stands for <c>qbit-aria2+rtorrent+lt</c>.
    /// Each client announces to <paramref name="announceUrlOf"/>(its index: 0 the seeder, then the leechers), as
    /// each member of a private site downloads the torrent file with their own passkey in it; the info hash is
    /// the same for all. Returns the torrent's info hash in hex.
    /// </summary>
    public async Task<string> RunAsync(string spec, Func<int, Uri> announceUrlOf)
    {
        var roles = (spec == "swarm" ? "qbit-aria2+rtorrent+lt" : spec).Split('-');
        if (roles.Length != 2)
        {
            throw new ArgumentException($"'{spec}' is not SEEDER-LEECHER[+LEECHER...].", nameof(spec));
        }

        var (seederKind, leecherKinds) = (roles[0], roles[1].Split('+'));
        var run = Directory.CreateTempSubdirectory("realclient-").FullName;
        var clients = new List<TorrentClient>();
        var succeeded = false;
        try
        {
            var payload = RandomNumberGenerator.GetBytes(payloadBytes);
            var payloadHash = SHA256.HashData(payload);
            var torrentFiles = new List<string>();
            var torrent = PrivateTorrent.Create(PayloadFileName, payload, announceUrlOf(0));
            for (var client = 0; client <= leecherKinds.Length; client++)
            {
                var personal = client == 0 ? torrent : PrivateTorrent.Create(PayloadFileName, payload, announceUrlOf(client));
                Assert.Equal(torrent.InfoHashHex, personal.InfoHashHex);
                torrentFiles.Add(Path.Combine(run, $"payload-{client}.torrent"));
                await File.WriteAllBytesAsync(torrentFiles[^1], personal.Contents);
            }

            await tracker.PutTorrentAsync(torrent.InfoHash, TrackerFixture.NextId());
            output.WriteLine($"{spec}: info hash {torrent.InfoHashHex}, {payloadBytes} bytes, folder {run}");

            var seeder = AddClient(clients, seederKind, run, ClientRole.Seeder);
            await File.WriteAllBytesAsync(Path.Combine(seeder.DataFolder, PayloadFileName), payload);
            var clock = Stopwatch.StartNew();
            await seeder.StartAsync(torrentFiles[0], StartTimeout);
            await Eventually.TrueAsync(async () =>
            {
                seeder.ThrowIfExited();
                return await SeedersAsync(torrent) >= 1;
            }, $"the tracker lists seeder {seeder.Name}", StartTimeout);
            output.WriteLine($"the tracker lists {seeder.Name} after {clock.Elapsed.TotalSeconds:0.0} s");

            clock.Restart();
            var leechers = leecherKinds.Select(kind => AddClient(clients, kind, run, ClientRole.Leecher)).ToList();
            for (var i = 0; i < leechers.Count; i++)
            {
                await leechers[i].StartAsync(torrentFiles[i + 1], StartTimeout);
            }

            var downloading = leechers.ToList();
            await Eventually.ValueAsync(() =>
            {
                clients.ForEach(client => client.ThrowIfExited());
                foreach (var finished in downloading.Where(leecher => HoldsPayload(leecher, payloadHash, payloadBytes)).ToList())
                {
                    output.WriteLine($"{finished.Name} holds the payload {clock.Elapsed.TotalSeconds:0.0} s after the leechers started");
                    downloading.Remove(finished);
                }

                return Task.FromResult(downloading.Count);
            }, remaining => remaining == 0, DownloadTimeout, HashPollDelay);
            Assert.True(downloading.Count == 0, $"no whole payload after {DownloadTimeout.TotalSeconds:0} s: {string.Join(", ", downloading.Select(leecher => leecher.Name))}");

            await Eventually.ValueAsync(() => SeedersAsync(torrent), seeders => seeders >= 1 + leechers.Count, CompletedGrace);
            clock.Restart();
            await Task.WhenAll(clients.Select(client => client.StopAsync(StopTimeout)));
            output.WriteLine($"all clients stopped after {clock.Elapsed.TotalSeconds:0.0} s");
            succeeded = true;
            return torrent.InfoHashHex;
        }
        finally
        {
            await Task.WhenAll(clients.Select(client => client.DisposeAsync().AsTask()));
            if (succeeded)
            {
                Directory.Delete(run, recursive: true);
            }
            else
            {
                WriteLogTails(run);
            }
        }
    }

    private static TorrentClient AddClient(List<TorrentClient> clients, string kind, string run, ClientRole role)
    {
        var folder = Path.Combine(run, $"{clients.Count}-{kind}-{role.ToString().ToLowerInvariant()}");
        var address = new IPAddress([127, 0, 0, (byte)(11 + clients.Count)]);
        TorrentClient client = kind switch
        {
            "aria2" => new Aria2Client(folder, address, role),
            "qbit" => new QBittorrentClient(folder, address, role),
            "rtorrent" => new RtorrentClient(folder, address, role),
            "lt" => new LibtorrentClient(folder, address, role),
            _ => throw new ArgumentException($"Unknown client '{kind}'.", nameof(kind)),
        };
        clients.Add(client);
        return client;
    }

    private static bool HoldsPayload(TorrentClient client, byte[] payloadHash, int payloadBytes)
    {
        var file = new FileInfo(Path.Combine(client.DataFolder, PayloadFileName));
        if (!file.Exists || file.Length != payloadBytes)
        {
            return false;
        }

        // The client still has the file open for writing.
        using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return SHA256.HashData(stream).AsSpan().SequenceEqual(payloadHash);
    }

    private async Task<int> SeedersAsync(PrivateTorrent torrent) =>
        (await tracker.GetAdminAsync($"/admin/torrents/{torrent.InfoHashHex}")).GetProperty("seeders").GetInt32();

    private void WriteLogTails(string run)
    {
        output.WriteLine($"Run failed; its folder is kept: {run}");
        foreach (var log in Directory.EnumerateFiles(run, "*.log", SearchOption.AllDirectories).Order())
        {
            output.WriteLine($"--- {Path.GetRelativePath(run, log)}, last {LogTailLines} lines ---");
            foreach (var line in File.ReadLines(log).TakeLast(LogTailLines))
            {
                output.WriteLine(line);
            }
        }
    }
}
