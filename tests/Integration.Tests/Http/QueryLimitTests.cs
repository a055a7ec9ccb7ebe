using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>
/// <c>Gateway:MaxQueryLength</c> and <c>Gateway:MaxScrapeHashes</c> at their defaults, at the edges: the largest
/// scrape the hash limit allows fits the length limit, and neither Kestrel nor the gateway refuses it early.
/// </summary>
[Collection(TrackerCollection.Name)]
public sealed class QueryLimitTests(TrackerFixture fixture)
{
    private TrackerHost Host => fixture.Host;

    private GatewayOptions Limits => Host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;

    [Fact]
    public async Task Scrape_MaxScrapeHashesFullyEncoded_AnswersEveryHash()
    {
        var passkey = await fixture.NewUserAsync();
        var hashes = new List<byte[]>();
        for (var i = 0; i < Limits.MaxScrapeHashes; i++)
        {
            hashes.Add(await fixture.NewTorrentAsync());
        }

        var reply = await Host.GetBencodeAsync($"/{passkey}/scrape?{ScrapeQuery(hashes)}");

        Assert.Null(FailureReason(reply));
        var files = (Dictionary<string, object>)reply["files"];
        Assert.Equal(hashes.Select(h => System.Text.Encoding.Latin1.GetString(h)).Order(StringComparer.Ordinal), files.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Scrape_OneHashOverMaxScrapeHashes_GetsFailureReason()
    {
        var passkey = await fixture.NewUserAsync();
        var hashes = Enumerable.Range(0, Limits.MaxScrapeHashes + 1).Select(_ => UrlBytes.Random20()).ToList();

        var reply = await Host.GetBencodeAsync($"/{passkey}/scrape?{ScrapeQuery(hashes)}");

        Assert.Equal(TrackerFailure.TooManyScrapeHashes, FailureReason(reply));
    }

    [Fact]
    public async Task Scrape_QueryOfExactlyMaxQueryLength_IsAnswered()
    {
        var passkey = await fixture.NewUserAsync();
        var hash = await fixture.NewTorrentAsync();

        var reply = await Host.GetBencodeAsync($"/{passkey}/scrape?{Padded(ScrapeQuery([hash]), Limits.MaxQueryLength)}");

        Assert.Null(FailureReason(reply));
        Assert.Single((Dictionary<string, object>)reply["files"]);
    }

    [Theory]
    [InlineData("scrape")]
    [InlineData("announce")]
    public async Task QueryOneByteOverMaxQueryLength_GetsFailureReasonWithHttp200(string endpoint)
    {
        var passkey = await fixture.NewUserAsync();

        // GetBencodeAsync asserts HTTP 200: Kestrel's own request-line limit must not answer first.
        var reply = await Host.GetBencodeAsync($"/{passkey}/{endpoint}?{Padded(ScrapeQuery([UrlBytes.Random20()]), Limits.MaxQueryLength + 1)}");

        Assert.Equal(TrackerFailure.QueryTooLong, FailureReason(reply));
    }

    [Fact]
    public async Task MaxQueryLengthTooShortForMaxScrapeHashes_IsRefusedAtStart()
    {
        var settings = new Dictionary<string, string?> { ["Gateway:MaxQueryLength"] = "2048", ["Gateway:MaxScrapeHashes"] = "64" };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TrackerHost.StartAsync(settings));

        Assert.Contains("Gateway:MaxQueryLength", error.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:MaxScrapeHashes", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every byte as <c>%XX</c>, the longest form a client may send.</summary>
    private static string ScrapeQuery(IEnumerable<byte[]> hashes) =>
        string.Join('&', hashes.Select(hash => "info_hash=" + string.Concat(hash.Select(b => $"%{b:X2}"))));

    /// <summary><paramref name="query"/> with an ignored parameter that makes it exactly <paramref name="length"/> bytes.</summary>
    private static string Padded(string query, int length) => query + "&pad=" + new string('p', length - query.Length - "&pad=".Length);
}
