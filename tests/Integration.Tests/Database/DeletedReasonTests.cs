using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>
/// A deleted torrent's reason through the admin API onto the site's PostgreSQL: the column holds at most 512 bytes
/// of UTF-8, so the API must judge a reason the way the database does, never pass one the database then refuses.
/// </summary>
[Collection(SiteDatabaseCollection.Name)]
public sealed class DeletedReasonTests(SiteDatabaseFixture fixture)
{
    private TrackerHost Host => fixture.Host;

    private async Task<HttpResponseMessage> PutDeletedAsync(byte[] hash, long id, string reason) =>
        await Host.Admin.PutAsJsonAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}", new { id, status = "deleted", reason });

    [Theory]
    [InlineData("é", 256)]        // 2 bytes each: 512 bytes
    [InlineData("€", 170)]        // 3 bytes each: 510 bytes
    [InlineData("🎬", 128)]       // 4 bytes each (a surrogate pair in .NET): 512 bytes
    public async Task Reason_MultiByteUpToTheLimitInBytes_IsStoredIntactAndShownToClients(string character, int count)
    {
        var reason = string.Concat(Enumerable.Repeat(character, count));
        var (_, passkey) = await fixture.NewUserAsync();
        var hash = UrlBytes.Random20();
        var id = SiteDatabaseFixture.NextId();

        using var response = await PutDeletedAsync(hash, id, reason);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(reason, await fixture.Database.ScalarAsync<string>("select deleted_reason from torrents where id = $1", id));
        var reply = await new Announcer(passkey, hash, UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started");
        Assert.Equal($"torrent has been deleted: {reason}", FailureReason(reply));
    }

    [Theory]
    [InlineData("é", 257)]        // 257 characters, 514 bytes: the database's check would refuse it
    [InlineData("€", 171)]        // 513 bytes
    [InlineData("🎬", 129)]       // 516 bytes
    [InlineData("a", 513)]
    public async Task Reason_OverTheLimitInBytes_IsRefusedWith400(string character, int count)
    {
        var reason = string.Concat(Enumerable.Repeat(character, count));
        var id = SiteDatabaseFixture.NextId();

        using var response = await PutDeletedAsync(UrlBytes.Random20(), id, reason);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("512 bytes", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>("select count(*) from torrents where id = $1", id));
    }

    [Theory]
    [InlineData("""{"id":ID,"status":"deleted","reason":"nul \u0000 inside"}""")]      // PostgreSQL text cannot hold NUL
    [InlineData("""{"id":ID,"status":"deleted","reason":"half a pair \ud83c"}""")]     // not encodable as UTF-8
    public async Task Reason_TheDatabaseCannotStore_IsRefusedWith400(string body)
    {
        var id = SiteDatabaseFixture.NextId();
        using var content = new StringContent(body.Replace("ID", id.ToString(), StringComparison.Ordinal), Encoding.UTF8, "application/json");

        using var response = await Host.Admin.PutAsync($"/admin/torrents/{Convert.ToHexStringLower(UrlBytes.Random20())}", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>("select count(*) from torrents where id = $1", id));
    }
}
