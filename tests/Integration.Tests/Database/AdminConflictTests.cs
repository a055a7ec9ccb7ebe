using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>
/// The admin API onto the site's PostgreSQL, whose unique columns refuse a passkey or an info hash of another id: the
/// caller gets 409 with a reason, not a 500, and the rows stay as they were.
/// </summary>
[Collection(SiteDatabaseCollection.Name)]
public sealed class AdminConflictTests(SiteDatabaseFixture fixture)
{
    private TrackerHost Host => fixture.Host;

    [Fact]
    public async Task PasskeyOfAnotherUser_IsRefusedWith409_AndBothUsersStayAsTheyWere()
    {
        var (id, passkey) = await fixture.NewUserAsync();
        var other = SiteDatabaseFixture.NextId();

        using var response = await Host.Admin.PutAsJsonAsync($"/admin/users/{passkey}", new { id = other });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.StartsWith("the passkey belongs to another user", await ErrorAsync(response), StringComparison.Ordinal);
        Assert.Equal(id, await fixture.Database.ScalarAsync<long>("select id from users where passkey = $1", passkey));
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>("select count(*) from users where id = $1", other));
    }

    [Fact]
    public async Task InfoHashOfAnotherTorrent_IsRefusedWith409_AndTheTorrentStaysAsItWas()
    {
        var (id, hash) = await fixture.NewTorrentAsync();
        var other = SiteDatabaseFixture.NextId();

        using var response = await Host.Admin.PutAsJsonAsync($"/admin/torrents/{Convert.ToHexStringLower(hash)}", new { id = other });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.StartsWith("the info hash belongs to another torrent", await ErrorAsync(response), StringComparison.Ordinal);
        Assert.Equal(id, await fixture.Database.ScalarAsync<long>("select id from torrents where info_hash = $1", hash));
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>("select count(*) from torrents where id = $1", other));
    }

    private static async Task<string?> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
}
