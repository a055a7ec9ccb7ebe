using System.Text;
using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>
/// A scrape of a torrent the tracker serves together with one it has yet to read, while the site's database cannot
/// answer that read: the client gets the figures the tracker has, not a refusal of the whole scrape.
/// </summary>
public sealed class SlowSiteScrapeTests : IAsyncLifetime
{
    private const string Passkey = "slowsitescrape00000000001";

    private PostgresTestDatabase _database = null!;
    private TrackerHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        await _database.ExecuteAsync("insert into users (id, passkey) values (1, $1)", Passkey);
        _host = await TrackerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Site:Store"] = "Postgres",
            ["Database:ConnectionString"] = _database.ConnectionString,
        });
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Scrape_OfAServedTorrentAndOneTheSiteCannotReadNow_AnswersTheServedOne_AndTheOtherOnceReadable()
    {
        var served = await NewTorrentAsync(1);
        var unread = await NewTorrentAsync(2);
        await new Announcer(Passkey, served, UrlBytes.Random20(), 51101).AnnounceAsync(_host, 0, 0, 0, "started");
        var scrape = $"/{Passkey}/scrape?info_hash={UrlBytes.Encode(served)}&info_hash={UrlBytes.Encode(unread)}";

        Dictionary<string, object> whileUnreadable;
        await using (var siteJob = await _database.DataSource.OpenConnectionAsync())
        await using (var lockHeld = await siteJob.BeginTransactionAsync())
        {
            // Every torrent read waits on this table (a torrent's freeleech tokens), as on a database failing over or
            // overloaded; the swarm answers unavailable after its first read's wait, and the read goes on.
            await using (var lockTokens = siteJob.CreateCommand())
            {
                lockTokens.CommandText = "lock table freeleech_tokens in access exclusive mode";
                await lockTokens.ExecuteNonQueryAsync();
            }

            whileUnreadable = await _host.GetBencodeAsync(scrape);
            await lockHeld.RollbackAsync();
        }

        // The read held up answers moments after the lock goes; until then the torrent is still left out.
        var onceReadable = await Eventually.ValueAsync(() => _host.GetBencodeAsync(scrape), reply => ((Dictionary<string, object>)reply["files"]).Count == 2);

        Assert.Null(FailureReason(whileUnreadable));
        var files = (Dictionary<string, object>)whileUnreadable["files"];
        Assert.Equal(1L, ((Dictionary<string, object>)Assert.Single(files, file => file.Key == Encoding.Latin1.GetString(served)).Value)["complete"]);
        Assert.DoesNotContain(Encoding.Latin1.GetString(unread), files.Keys);
        Assert.Equal(2, ((Dictionary<string, object>)onceReadable["files"]).Count);
    }

    private async Task<byte[]> NewTorrentAsync(long id)
    {
        var hash = UrlBytes.Random20();
        await _database.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash);
        return hash;
    }
}
