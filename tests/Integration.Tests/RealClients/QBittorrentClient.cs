using System.Diagnostics;
using System.Net;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.RealClients;

/// <summary>
/// qbittorrent-nox with a profile folder of its own. It takes torrents through its WebUI API only, so the
/// torrent is added once the WebUI answers.
/// </summary>
internal sealed class QBittorrentClient(string folder, IPAddress address, ClientRole role) : TorrentClient(folder, address, role)
{
    private readonly int _webUiPort = FreePorts.Next();

    protected override ProcessStartInfo Prepare(string torrentFile)
    {
        var profile = Path.Combine(Folder, "profile");
        var configuration = Path.Combine(profile, "qBittorrent", "config");
        Directory.CreateDirectory(configuration);

        // LegalNotice: without it qbittorrent-nox asks on the terminal and waits.
        // InterfaceAddress: it logs that no interface holds 127.0.0.x (lo holds 127.0.0.0/8 as one address)
        // and binds it all the same, also for its tracker requests.
        // SSRFMitigation: libtorrent 2.0 refuses to announce to a loopback tracker whose path is not exactly
        // /announce, and the tracker under test is on 127.0.0.1 at /PASSKEY/announce.
        // GlobalMaxRatio=-1: seeds until stopped. ResolvePeerCountries=false: no geolocation download.
        // LocalHostAuth=false: the WebUI asks no login from loopback.
        File.WriteAllText(Path.Combine(configuration, "qBittorrent.conf"), $"""
            [LegalNotice]
            Accepted=true

            [BitTorrent]
            Session\Port={PeerPort}
            Session\InterfaceAddress={Address}
            Session\DHTEnabled=false
            Session\LSDEnabled=false
            Session\PeXEnabled=false
            Session\QueueingSystemEnabled=false
            Session\GlobalMaxRatio=-1
            Session\SSRFMitigation=false

            [Network]
            PortForwardingEnabled=false

            [Preferences]
            Connection\ResolvePeerCountries=false
            WebUI\Address=127.0.0.1
            WebUI\Port={_webUiPort}
            WebUI\LocalHostAuth=false
            """);
        return new ProcessStartInfo("qbittorrent-nox", [$"--profile={profile}"]);
    }

    protected override async Task AddTorrentAsync(string torrentFile, TimeSpan timeout)
    {
        // A short timeout per request: a WebUI that accepts but does not answer yet is asked again.
        using var webUi = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_webUiPort}/"), Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.TrueAsync(async () =>
        {
            ThrowIfExited();
            try
            {
                using var version = await webUi.GetAsync("api/v2/app/version");
                return version.IsSuccessStatusCode;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }, $"{Name}'s WebUI answers", timeout);

        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await File.ReadAllBytesAsync(torrentFile)), "torrents", Path.GetFileName(torrentFile) },
            { new StringContent(DataFolder), "savepath" },
            { new StringContent("false"), "paused" },
        };
        using var response = await webUi.PostAsync("api/v2/torrents/add", form);
        var answer = await response.Content.ReadAsStringAsync();
        if (answer != "Ok.")
        {
            throw new InvalidOperationException($"{Name} did not take the torrent: {(int)response.StatusCode} {answer}");
        }
    }
}
