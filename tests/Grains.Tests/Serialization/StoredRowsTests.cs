using System.Globalization;
using System.Net;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Serialization;

/// <summary>
/// The state that outlives a process is rows in PostgreSQL, not Orleans binary: the site's users and torrents and
/// what swarms wrote back (peers, departures, claims, statistics). During a rolling upgrade the new version restores
/// swarms from rows the old one wrote, after the new version's migrations ran. Each <c>golden/site-rows-NNN.sql</c>
/// holds the same data as schema version NNN stored it; this version must read every one of them as that data.
/// </summary>
public sealed class StoredRowsTests
{
    private const string Passkey = "golden0123456789abcdef";
    private const long UserId = 901;
    private const long TorrentId = 902;

    private static string GoldenFolder => Path.Combine(RepositoryPaths.Root, "tests", "Grains.Tests", "Serialization", "golden");

    private static IEnumerable<string> FixtureNames() =>
        Directory.GetFiles(GoldenFolder, "site-rows-*.sql").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    public static TheoryData<string> Fixtures() => [.. FixtureNames()];

    [Fact]
    public void TheNewestFixtureIsOfTheNewestSchemaThatChangedStoredRows()
    {
        // Not the newest migration necessarily (one that changes nothing stored needs no fixture), but never newer.
        Assert.NotEmpty(FixtureNames());
        Assert.All(FixtureNames(), fixture => Assert.True(VersionOf(fixture) <= SchemaMigrator.Migrations[^1].Version, fixture));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task RowsStoredByAnEarlierSchema_ReadAsTheSameDataAfterMigrating(string fixture)
    {
        await using var database = await PostgresTestDatabase.CreateAsync(migrateThrough: VersionOf(fixture));
        await database.ExecuteAsync(await File.ReadAllTextAsync(Path.Combine(GoldenFolder, fixture)));
        await SchemaMigrator.MigrateAsync(database.DataSource);
        var store = new PostgresSiteStore(database.DataSource, new FakeTimeProvider(Time("2026-11-28T10:00:00Z")), NullLogger<PostgresSiteStore>.Instance);

        var user = await store.FindUserAsync(global::Chihaya.Orleans.Grains.Interfaces.Model.Passkey.UserKeyOf(Passkey));
        Assert.Equal(new UserProfile(UserId, new Multipliers(1.5m, 0.25m), false, Time("2026-12-01T09:30:15.123456Z")), user);

        var torrent = await store.FindTorrentAsync(InfoHash.Read(WireFixtures.Counting(0x41, 20)));
        Assert.NotNull(torrent);
        Assert.Equal((TorrentId, TorrentStatus.Deleted, "Trumped by a better release.", new Multipliers(2m, 0.5m), 77L),
            (torrent.TorrentId, torrent.Status, torrent.DeletedReason, torrent.Multipliers, torrent.Snatches));
        Assert.Equal([KeyValuePair.Create(UserId, Time("2999-01-01T00:00:00Z"))], torrent.FreeleechTokens!);

        Assert.Equal([(byte[])[0x2d, 0x71, 0x42, 0x34, 0x2d]], await store.GetAllowedClientPrefixesAsync());
        Assert.Equal(new Traffic(1001, 1002, 1003, 1004), await store.GetUserTrafficAsync(UserId));
        Assert.Equal(new Traffic(2001, 2002, 2003, 2004), await store.GetTorrentTrafficAsync(TorrentId));
        Assert.Equal(
            new UserTorrentUsage(UserId, TorrentId, new Traffic(3001, 3002, 3003, 3004), 3600, Time("2026-11-27T08:00:00.5Z"), Time("2026-11-28T09:30:15Z")),
            await store.GetUserTorrentAsync(UserId, TorrentId));

        var claim = await store.ClaimSwarmAsync(TorrentId);
        // Epochs fence stale activations only if a new claim's epoch is above every one stored before the upgrade.
        Assert.True(claim.Epoch > 5, $"A claim after the upgrade got epoch {claim.Epoch}, not above the stored 5.");
        StoredPeer[] peers =
        [
            new(Entry(0x21, IPAddress.Parse("192.0.2.10"), 6881, 100_000, 200_000, snatched: true, "2026-11-28T09:30:15Z", "2026-11-28T09:30:15.123456Z"), Seeder: true),
            new(Entry(0x61, IPAddress.Parse("2001:db8::42"), 51413, 300_000, 7, snatched: false, "2026-11-28T09:31:00Z", "2026-11-28T09:31:00.654321Z"), Seeder: false),
        ];
        Assert.Equal(peers.Length, claim.Peers.Count);
        foreach (var (expected, read) in peers.Zip(claim.Peers.OrderBy(peer => peer.Entry.PeerId.Value)))
        {
            Assert.Equal(Describe(expected), Describe(read));
        }

        Assert.Equal(
            [new DepartedPeer(new PeerKey(PeerId.Read(WireFixtures.Counting(0x81, 20)), UserId), Microseconds("2026-11-28T09:20:00.000001Z"), Time("2026-11-28T09:20:01Z").ToUnixTimeSeconds())],
            claim.Departures);
    }

    private static PeerEntry Entry(int firstByte, IPAddress address, int port, long uploaded, long downloaded, bool snatched, string lastSeen, string receivedAt) => new()
    {
        PeerId = PeerId.Read(WireFixtures.Counting(firstByte, 20)),
        Endpoint = PeerEndpoint.From(address, port),
        UserId = UserId,
        Uploaded = uploaded,
        Downloaded = downloaded,
        HasSnatched = snatched,
        LastSeen = Time(lastSeen).ToUnixTimeSeconds(),
        ReceivedAt = Microseconds(receivedAt),
    };

    /// <summary>Every field of a stored peer, so a failure names the one that differs.</summary>
    private static string Describe(StoredPeer peer) =>
        $"peer {peer.Entry.PeerId} of user {peer.Entry.UserId} at {peer.Entry.Endpoint}: uploaded {peer.Entry.Uploaded}, downloaded {peer.Entry.Downloaded}, " +
        $"snatched {peer.Entry.HasSnatched}, seeder {peer.Seeder}, last seen {peer.Entry.LastSeen}, received at {peer.Entry.ReceivedAt}";

    private static int VersionOf(string fixture) =>
        int.Parse(fixture["site-rows-".Length..^".sql".Length], CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);

    private static long Microseconds(string text) => UnixMicroseconds.From(Time(text));
}
