using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Http;

[Collection(TrackerCollection.Name)]
public sealed class AdminApiTests(TrackerFixture fixture)
{
    private TrackerHost Host => fixture.Host;

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("Basic YWRtaW46YWRtaW4=")]
    public async Task Admin_WithoutTheToken_IsUnauthorized(string? authorization)
    {
        using var client = new HttpClient { BaseAddress = Host.BaseAddress };
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.Authorization = AuthenticationHeaderValue.Parse(authorization);
        }

        using var get = await client.GetAsync($"/admin/users/{TrackerFixture.NewPasskey()}");
        using var put = await client.PutAsJsonAsync($"/admin/users/{TrackerFixture.NewPasskey()}", new { id = 5 });
        using var malformed = await client.PutAsync($"/admin/users/{TrackerFixture.NewPasskey()}", new StringContent("not json", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, get.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, put.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, malformed.StatusCode);
    }

    [Fact]
    public async Task Admin_WithoutTheToken_IsRefusedBeforeTheBodyIsRead()
    {
        using var connection = await RawHttp.ConnectAsync(Host.BaseAddress);

        // Announces 25 MB but sends only a few KB: a server that reads the body first never answers.
        await connection.SendAsync(
            $"PUT /admin/users/{TrackerFixture.NewPasskey()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {25 * 1024 * 1024}\r\n\r\n{{\"id\":1,\"pad\":\"{new string('x', 4096)}");

        Assert.True(await connection.ReadResponseHeadAsync(TimeSpan.FromSeconds(10)), $"no answer before the rest of the body; received: {connection.Received}");
        Assert.Equal([401], connection.Statuses);
        Assert.Contains("Connection: close", connection.Received, StringComparison.OrdinalIgnoreCase);
        Assert.True(await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10)), "the connection stayed open for the unread body");
    }

    [Fact]
    public async Task Admin_Disabled_IsForbiddenWhateverTheBody()
    {
        await using var host = await TrackerHost.StartAsync(new Dictionary<string, string?> { ["Admin:Token"] = "" });
        using var content = new StringContent("not json", Encoding.UTF8, "application/json");

        using var response = await host.Admin.PutAsync($"/admin/users/{TrackerFixture.NewPasskey()}", content);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Admin_UserLifecycle_PutGetDelete()
    {
        var passkey = TrackerFixture.NewPasskey();
        await Host.PutUserAsync(passkey, 77_001, upload: 2m, download: 0.5m, canLeech: false);

        using (var raw = await Host.Admin.GetAsync($"/admin/users/{passkey}"))
        {
            // It holds the passkey: for the caller alone, kept by no cache.
            Assert.True(raw.Headers.CacheControl?.NoStore, "Cache-Control: no-store");
        }

        var user = (await Host.GetAdminAsync($"/admin/users/{passkey}")).GetProperty("user");
        // A GET's document, passkey and all, is a PUT's body as it is (the strict reading refuses no member of it).
        using var putBack = await Host.Admin.PutAsync($"/admin/users/{passkey}", new StringContent(user.GetRawText(), Encoding.UTF8, "application/json"));
        using var deleted = await Host.Admin.DeleteAsync($"/admin/users/{passkey}");
        using var gone = await Host.Admin.GetAsync($"/admin/users/{passkey}");
        using var deletedAgain = await Host.Admin.DeleteAsync($"/admin/users/{passkey}");

        Assert.Equal(77_001, user.GetProperty("id").GetInt64());
        Assert.Equal(2m, user.GetProperty("uploadMultiplier").GetDecimal());
        Assert.Equal(0.5m, user.GetProperty("downloadMultiplier").GetDecimal());
        Assert.False(user.GetProperty("canLeech").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent, putBack.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, deletedAgain.StatusCode);
    }

    [Fact]
    public async Task Admin_DeletedUser_IsRefusedAtOnce()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(Replies.FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0, "started")));

        using var deleted = await Host.Admin.DeleteAsync($"/admin/users/{passkey}");

        Assert.Equal(Gateway.Protocol.TrackerFailure.UnknownPasskey, Replies.FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0)));
    }

    [Theory]
    [InlineData("/admin/users/0123456789abcdef", """{"id":0}""")]
    [InlineData("/admin/users/0123456789abcdef", """{"id":1,"uploadMultiplier":-1}""")]
    [InlineData("/admin/users/bad!", """{"id":1}""")]
    [InlineData("/admin/torrents/abcd", """{"id":1}""")]
    [InlineData("/admin/torrents/0123456789abcdef0123456789abcdef01234567", """{"id":1,"status":"gone"}""")]
    [InlineData("/admin/torrents/0123456789abcdef0123456789abcdef01234567", """{"id":1,"downloadMultiplier":-0.5}""")]
    [InlineData("/admin/torrents/0123456789abcdef0123456789abcdef01234567", """not json""")]
    [InlineData("/admin/torrents/0123456789abcdef0123456789abcdef01234567", """{"id":1,"uploadMultiplier":1e30}""")]
    [InlineData("/admin/users/0123456789abcdef", """{"id":1,"uploadMultiplier":101}""")]
    [InlineData("/admin/torrents/0123456789abcdef0123456789abcdef01234567", """{"id":1,"downloadMultiplier":0.00004}""")]
    // A misspelt member would otherwise leave its default (leeching allowed); a repeated one, whichever came last.
    [InlineData("/admin/users/0123456789abcdef", """{"id":1,"can_leech":false}""")]
    [InlineData("/admin/users/0123456789abcdef", """{"id":1,"id":2}""")]
    // A document whose key is not the path's: an edited GET that would answer 204 and change nothing.
    [InlineData("/admin/users/0123456789abcdef", """{"id":1,"passkey":"fedcba9876543210"}""")]
    [InlineData("/admin/torrents/0123456789abcdef0123456789abcdef01234567", """{"id":1,"infoHash":"ffffffffffffffffffffffffffffffffffffffff"}""")]
    public async Task Admin_InvalidChange_IsRejectedWith400(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await Host.Admin.PutAsync(path, content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetString()));
    }

    [Fact]
    public async Task Admin_PasskeyOrInfoHashOfAnotherId_IsRefusedWith409_AndChangesNothing()
    {
        var passkey = TrackerFixture.NewPasskey();
        await Host.PutUserAsync(passkey, 77_101);
        var hash = UrlBytes.Random20();
        await Host.PutTorrentAsync(hash, 77_102);
        var torrentPath = $"/admin/torrents/{Convert.ToHexStringLower(hash)}";

        using var user = await Host.Admin.PutAsJsonAsync($"/admin/users/{passkey}", new { id = 77_103 });
        using var torrent = await Host.Admin.PutAsJsonAsync(torrentPath, new { id = 77_104 });

        Assert.Equal(HttpStatusCode.Conflict, user.StatusCode);
        Assert.Contains("another user", (await user.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, torrent.StatusCode);
        Assert.Contains("another torrent", (await torrent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(77_101, (await Host.GetAdminAsync($"/admin/users/{passkey}")).GetProperty("user").GetProperty("id").GetInt64());
        Assert.Equal(77_102, (await Host.GetAdminAsync(torrentPath)).GetProperty("torrent").GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task Admin_BodyInACharsetWithoutEncoding_IsRefusedWith415()
    {
        using var content = new StringContent("""{"id":1}""", Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=bogus");

        using var response = await Host.Admin.PutAsync($"/admin/users/{TrackerFixture.NewPasskey()}", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("charset", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Admin_OversizedBody_IsRefusedWith413(bool chunked)
    {
        // Valid JSON: only its size is wrong.
        using var content = new StringContent("""{"id":1}""" + new string(' ', 100 * 1024), Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/admin/users/{TrackerFixture.NewPasskey()}") { Content = content };
        request.Headers.TransferEncodingChunked = chunked;

        using var response = await Host.Admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Admin_TorrentView_ShowsLiveSwarm()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();
        await new Announcer(passkey, hash, UrlBytes.Random20(), 51301).AnnounceAsync(Host, 0, 0, 0, "started");
        await new Announcer(passkey, hash, UrlBytes.Random20(), 51302).AnnounceAsync(Host, 0, 0, 5, "started");

        var view = await Host.GetAdminAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}");
        // Its torrent document, info hash and all, is a PUT's body as it is.
        using var putBack = await Host.Admin.PutAsync(
            $"/admin/torrents/{Convert.ToHexStringLower(hash)}", new StringContent(view.GetProperty("torrent").GetRawText(), Encoding.UTF8, "application/json"));

        Assert.Equal(1, view.GetProperty("seeders").GetInt32());
        Assert.Equal(1, view.GetProperty("leechers").GetInt32());
        Assert.Equal("active", view.GetProperty("torrent").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NoContent, putBack.StatusCode);
    }
}
