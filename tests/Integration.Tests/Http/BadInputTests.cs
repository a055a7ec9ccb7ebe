using System.Net;
using System.Net.Sockets;
using System.Text;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>Every malformed announce gets a bencoded failure reason with HTTP 200, and the node keeps serving.</summary>
[Collection(TrackerCollection.Name)]
public sealed class BadInputTests(TrackerFixture fixture)
{
    private const string Hash = "%00%FF%2B%25%C3%28%80abcdefghijklm";
    private const string Peer = "-qB4520-%00%01%02%03%04%05%06%07%08%09%0A%0B";

    private TrackerHost Host => fixture.Host;

    public static TheoryData<string, string> BadQueries() => new()
    {
        { $"peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=0", TrackerFailure.MissingInfoHash },
        { $"info_hash=%00%01&peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=0", TrackerFailure.InvalidInfoHash },
        { $"info_hash={Hash}&port=1&uploaded=0&downloaded=0&left=0", TrackerFailure.MissingPeerId },
        { $"info_hash={Hash}&peer_id=short&port=1&uploaded=0&downloaded=0&left=0", TrackerFailure.InvalidPeerId },
        { $"info_hash={Hash}&peer_id={Peer}&port=0&uploaded=0&downloaded=0&left=0", TrackerFailure.InvalidPort },
        { $"info_hash={Hash}&peer_id={Peer}&port=65536&uploaded=0&downloaded=0&left=0", TrackerFailure.InvalidPort },
        { $"info_hash={Hash}&peer_id={Peer}&uploaded=0&downloaded=0&left=0", TrackerFailure.MissingPort },
        { $"info_hash={Hash}&peer_id={Peer}&port=1&uploaded=-1&downloaded=0&left=0", TrackerFailure.InvalidUploaded },
        { $"info_hash={Hash}&peer_id={Peer}&port=1&uploaded=0&downloaded=abc&left=0", TrackerFailure.InvalidDownloaded },
        { $"info_hash={Hash}&peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=-5", TrackerFailure.InvalidLeft },
        { $"info_hash={Hash}&peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=0&event=bogus", TrackerFailure.InvalidEvent },
        { $"info_hash=%00%FF%2B%25%C3%28%80abcdefghijkl%G1&peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=0", TrackerFailure.BrokenEncoding },
        { $"info_hash={Hash}&peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=0&numwant=-1", TrackerFailure.InvalidNumWant },
        { $"info_hash={Hash}&peer_id={Peer}&port=1&uploaded=0&downloaded=0&left=0&key=" + new string('k', new GatewayOptions().MaxQueryLength), TrackerFailure.QueryTooLong },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task Announce_BadQuery_GetsFailureReasonWithHttp200(string query, string expected)
    {
        var passkey = await fixture.NewUserAsync();

        var reply = await Host.GetBencodeAsync($"/{passkey}/announce?{query}");

        Assert.Equal(expected, FailureReason(reply));
    }

    [Fact]
    public async Task Announce_RandomGarbage_NeverGets5xxAndNodeKeepsServing()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var random = new Random(42);
        const string alphabet = "%&=+?#;/abcdefinfo_hashpeer_idportleftupload0123456789FFG";
        for (var i = 0; i < 300; i++)
        {
            var junk = new string([.. Enumerable.Range(0, random.Next(1, 200)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            var uri = new Uri($"{Host.BaseAddress}{passkey}/announce?{junk}", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
            using var response = await Host.Http.GetAsync(uri);
            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} for {junk}");
        }

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started");
        Assert.Null(FailureReason(reply));
    }

    [Fact]
    public async Task Announce_RawNonAsciiBytesInRequestLine_AreRefusedWithout5xx()
    {
        var passkey = await fixture.NewUserAsync();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, Host.BaseAddress.Port);
        byte[] request = [.. Encoding.ASCII.GetBytes($"GET /{passkey}/announce?info_hash="), 0xC3, 0x28, 0xFF, .. Encoding.ASCII.GetBytes(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")];

        await socket.SendAsync(request);
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);

        var statusLine = Encoding.ASCII.GetString(buffer, 0, received).Split("\r\n")[0];
        Assert.Matches("^HTTP/1.1 [234]", statusLine);
        Assert.Null(FailureReason(await new Announcer(passkey, await fixture.NewTorrentAsync(), UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started")));
    }
}
