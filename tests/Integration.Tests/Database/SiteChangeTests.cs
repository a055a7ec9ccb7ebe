using System.Diagnostics;
using System.Text;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Database;

/// <summary>The tracker on the site's PostgreSQL database; each test changes the site through SQL alone.</summary>
public sealed class SiteDatabaseFixture : IAsyncLifetime
{
    private static long _nextId = 1000;

    public PostgresTestDatabase Database { get; private set; } = null!;

    public TrackerHost Host { get; private set; } = null!;

    public static long NextId() => Interlocked.Increment(ref _nextId);

    public async Task InitializeAsync()
    {
        Database = await PostgresTestDatabase.CreateAsync();
        Host = await TrackerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Site:Store"] = "Postgres",
            ["Database:ConnectionString"] = Database.ConnectionString,
            // These tests are about what silos make of the site's notices. The gateway's own memory of unknown keys,
            // which a notice does not reach, is WarmAnnounceCostTests'.
            ["Gateway:UnknownKeyLifetime"] = "00:00:00",
        });
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Database.DisposeAsync();
    }

    public async Task<(long Id, string Passkey)> NewUserAsync(bool canLeech = true)
    {
        var id = NextId();
        var passkey = $"siteuser{id:D8}passkey";
        await Database.ExecuteAsync("insert into users (id, passkey, can_leech) values ($1, $2, $3)", id, passkey, canLeech);
        return (id, passkey);
    }

    public async Task<(long Id, byte[] InfoHash)> NewTorrentAsync()
    {
        var id = NextId();
        var hash = UrlBytes.Random20();
        await Database.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash);
        return (id, hash);
    }
}

[CollectionDefinition(Name)]
public sealed class SiteDatabaseCollection : ICollectionFixture<SiteDatabaseFixture>
{
    public const string Name = "site database";
}

[Collection(SiteDatabaseCollection.Name)]
public sealed class SiteChangeTests(SiteDatabaseFixture fixture)
{
    // Changes usually show within a fraction of a second; the bound only has to hold on a loaded machine.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private TrackerHost Host => fixture.Host;

    private PostgresTestDatabase Db => fixture.Database;

    /// <summary>Announces until the reply satisfies <paramref name="done"/>; returns how long the change took to show.</summary>
    private async Task<TimeSpan> WithinDeadlineAsync(Func<Task<Dictionary<string, object>>> announce, Func<Dictionary<string, object>, bool> done)
    {
        var clock = Stopwatch.StartNew();
        var reply = await Eventually.ValueAsync(announce, done, Deadline);
        Assert.True(done(reply), $"the tracker did not obey the site within {Deadline}; last reply: {FailureReason(reply) ?? "accepted"}");
        return clock.Elapsed;
    }

    [Fact]
    public async Task PasskeyReset_OldPasskeyRefusedNewOneAccepted()
    {
        var (id, passkey) = await fixture.NewUserAsync();
        var (_, hash) = await fixture.NewTorrentAsync();
        var old = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(FailureReason(await old.AnnounceAsync(Host, 0, 0, 0, "started")));

        var fresh = $"resetpasskey{id:D8}";
        await Db.ExecuteAsync("update users set passkey = $2 where id = $1", id, fresh);

        await WithinDeadlineAsync(() => old.AnnounceAsync(Host, 0, 0, 0), r => FailureReason(r) == TrackerFailure.UnknownPasskey);
        Assert.Null(FailureReason(await (old with { Passkey = fresh }).AnnounceAsync(Host, 0, 0, 0)));
    }

    [Fact]
    public async Task UserDeleted_IsRefused()
    {
        var (id, passkey) = await fixture.NewUserAsync();
        var (_, hash) = await fixture.NewTorrentAsync();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0, "started")));

        await Db.ExecuteAsync("delete from users where id = $1", id);

        await WithinDeadlineAsync(() => peer.AnnounceAsync(Host, 0, 0, 0), r => FailureReason(r) == TrackerFailure.UnknownPasskey);
    }

    [Fact]
    public async Task MayLeechRevoked_LeecherRefused()
    {
        var (id, passkey) = await fixture.NewUserAsync();
        var (_, hash) = await fixture.NewTorrentAsync();
        var leecher = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(FailureReason(await leecher.AnnounceAsync(Host, 0, 0, 100, "started")));

        await Db.ExecuteAsync("update users set can_leech = false where id = $1", id);

        await WithinDeadlineAsync(() => leecher.AnnounceAsync(Host, 0, 0, 100), r => FailureReason(r) == TrackerFailure.LeechingNotAllowed);
    }

    [Fact]
    public async Task TorrentDeletedWithReason_RefusedWithTheReason()
    {
        var (_, passkey) = await fixture.NewUserAsync();
        var (torrentId, hash) = await fixture.NewTorrentAsync();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0, "started")));

        await Db.ExecuteAsync("update torrents set status = 'deleted', deleted_reason = 'Trumped by a better release' where id = $1", torrentId);

        await WithinDeadlineAsync(() => peer.AnnounceAsync(Host, 0, 0, 0), r => FailureReason(r) == "torrent has been deleted: Trumped by a better release");
    }

    [Fact]
    public async Task TorrentInsertedAfterARefusal_IsAcceptedAtOnce()
    {
        var (_, passkey) = await fixture.NewUserAsync();
        var hash = UrlBytes.Random20();
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Equal(TrackerFailure.TorrentNotRegistered, FailureReason(await peer.AnnounceAsync(Host, 0, 0, 0, "started")));

        await Db.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", SiteDatabaseFixture.NextId(), hash);

        await WithinDeadlineAsync(() => peer.AnnounceAsync(Host, 0, 0, 0, "started"), r => FailureReason(r) is null);
    }

    [Fact]
    public async Task ClientPrefixBanned_ThatClientRefusedOthersAccepted()
    {
        var (_, passkey) = await fixture.NewUserAsync();
        var (_, hash) = await fixture.NewTorrentAsync();
        var aria2 = new Announcer(passkey, hash, [.. "A2-1-36-0-"u8, .. UrlBytes.Random20()[..10]]);
        var qbit = new Announcer(passkey, hash, [.. "-qB4520-"u8, .. UrlBytes.Random20()[..12]], 7000);
        Assert.Null(FailureReason(await aria2.AnnounceAsync(Host, 0, 0, 0, "started")));

        // An allowlist: once it has entries, only the listed clients may announce.
        await Db.ExecuteAsync("insert into allowed_clients (peer_id_prefix, description) values ($1, 'qBittorrent 4.5')", Encoding.ASCII.GetBytes("-qB45"));
        try
        {
            await WithinDeadlineAsync(() => aria2.AnnounceAsync(Host, 0, 0, 0), r => FailureReason(r) == TrackerFailure.ClientNotAllowed);
            Assert.Null(FailureReason(await qbit.AnnounceAsync(Host, 0, 0, 0, "started")));
        }
        finally
        {
            await Db.ExecuteAsync("delete from allowed_clients");
        }

        await WithinDeadlineAsync(() => aria2.AnnounceAsync(Host, 0, 0, 0), r => FailureReason(r) is null);
    }

    [Theory]
    [InlineData("torrent freeleech", "update torrents set download_multiplier = 0 where id = $2")]
    [InlineData("personal freeleech", "update users set freeleech_until = now() + interval '1 day' where id = $1")]
    [InlineData("freeleech token", "insert into freeleech_tokens (user_id, torrent_id, expires_at) values ($1, $2, now() + interval '1 day')")]
    public async Task FreeleechSet_TrafficReportedAfterwardsIsNotCreditedAsDownload(string kind, string sql)
    {
        var (userId, passkey) = await fixture.NewUserAsync();
        var (torrentId, hash) = await fixture.NewTorrentAsync();
        var leecher = new Announcer(passkey, hash, UrlBytes.Random20());
        await leecher.AnnounceAsync(Host, 0, 0, 10_000, "started");
        await leecher.AnnounceAsync(Host, 0, 1_000, 9_000);

        await Db.ExecuteAsync(sql, userId, torrentId);
        var grains = Host.Services.GetRequiredService<IGrainFactory>();
        await Eventually.TrueAsync(
            async () =>
            {
                var user = await grains.GetGrain<IUserDirectoryGrain>(0).FindUser(Passkey.UserKeyOf(passkey));
                var torrent = await grains.GetGrain<ITorrentGrain>(Convert.ToHexStringLower(hash)).GetProfile();
                var now = DateTimeOffset.UtcNow;
                return torrent!.For(userId, user!.MultipliersAt(now), now).Download == 0m;
            },
            $"{kind} reached the cached user and torrent");
        await leecher.AnnounceAsync(Host, 0, 5_000, 5_000);
        await Host.SettleAsync();

        Assert.Equal(5_000, await Db.ScalarAsync<long>("select raw_downloaded from users where id = $1", userId));
        Assert.True(1_000 == await Db.ScalarAsync<long>("select credited_downloaded from users where id = $1", userId), kind);
    }

    [Fact]
    public async Task ChangeWithoutNotice_IsPickedUpByThePeriodicReRead()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // The user and torrent exist before the tracker listens for site changes, and the listener's first catch-up
        // re-read is over before the user is cached: a late notice of the insert, or that re-read, would otherwise pick
        // the quiet change below up before the periodic re-read does.
        var (id, passkey) = await fixture.NewUserAsync();
        var (_, hash) = await fixture.NewTorrentAsync();
        await using var host = await StartListeningAsync(clock);
        var refresh = host.Services.GetRequiredService<IOptions<SiteOptions>>().Value.RefreshInterval;
        var leecher = new Announcer(passkey, hash, UrlBytes.Random20());
        Assert.Null(FailureReason(await leecher.AnnounceAsync(host, 0, 0, 100, "started")));

        await QuietlyAsync($"update users set can_leech = false where id = {id}");

        var beforeReRead = FailureReason(await leecher.AnnounceAsync(host, 0, 0, 100));
        // The re-read runs on the grain's scheduler once the clock has moved: poll, moving on one period a poll.
        var afterReRead = await Eventually.ValueAsync(
            async () =>
            {
                clock.Advance(refresh);
                return FailureReason(await leecher.AnnounceAsync(host, 0, 0, 100));
            },
            reason => reason is not null);

        Assert.Null(beforeReRead);
        Assert.Equal(TrackerFailure.LeechingNotAllowed, afterReRead);
    }

    [Fact]
    public async Task TorrentChangedWithoutNotice_IsReReadAnIntervalOn_GiveOrTakeATenthByItsInfoHash()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // As above: both exist before the tracker listens, so only the periodic re-read can pick the quiet change up.
        var (_, passkey) = await fixture.NewUserAsync();
        var (earlyId, early) = await NewTorrentStartingWithAsync(0x00);
        var (lateId, late) = await NewTorrentStartingWithAsync(0xFF);
        await using var host = await StartListeningAsync(clock);
        var refresh = host.Services.GetRequiredService<IOptions<SiteOptions>>().Value.RefreshInterval;
        var earlyLeecher = new Announcer(passkey, early, UrlBytes.Random20());
        var lateLeecher = new Announcer(passkey, late, UrlBytes.Random20());
        // Both swarms activated at the same moment, as by a cold start.
        Assert.Null(FailureReason(await earlyLeecher.AnnounceAsync(host, 0, 0, 100, "started")));
        Assert.Null(FailureReason(await lateLeecher.AnnounceAsync(host, 0, 0, 100, "started")));
        await QuietlyAsync($"update torrents set status = 'deleted' where id in ({earlyId}, {lateId})");

        clock.Advance(refresh * 0.95);
        var earlyAtNinetyFivePercent = await Eventually.ValueAsync(async () => FailureReason(await earlyLeecher.AnnounceAsync(host, 0, 0, 100)), reason => reason is not null);
        var lateAtNinetyFivePercent = FailureReason(await lateLeecher.AnnounceAsync(host, 0, 0, 100));
        clock.Advance(refresh * 0.2);
        var lateAtHundredFifteenPercent = await Eventually.ValueAsync(async () => FailureReason(await lateLeecher.AnnounceAsync(host, 0, 0, 100)), reason => reason is not null);

        // 0x0000… re-reads at 0.9 of the interval, 0xFFFF… at 1.1: swarms activated together re-read spread out.
        Assert.NotNull(earlyAtNinetyFivePercent);
        Assert.Null(lateAtNinetyFivePercent);
        Assert.NotNull(lateAtHundredFifteenPercent);
    }

    /// <summary>A tracker of its own on the site's database, on <paramref name="clock"/>, once it listens for the site's changes.</summary>
    private async Task<TrackerHost> StartListeningAsync(FakeTimeProvider clock)
    {
        var host = await TrackerHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["Site:Store"] = "Postgres",
                ["Database:ConnectionString"] = Db.ConnectionString,
            },
            clock: clock);
        await host.Services.GetServices<IHostedService>().OfType<SiteChangeListener>().Single().Listening.WaitAsync(TimeSpan.FromSeconds(30));
        return host;
    }

    /// <summary>A torrent whose info hash starts with two <paramref name="first"/> bytes.</summary>
    private async Task<(long Id, byte[] InfoHash)> NewTorrentStartingWithAsync(byte first)
    {
        var id = SiteDatabaseFixture.NextId();
        var hash = UrlBytes.Random20();
        hash[0] = hash[1] = first;
        await Db.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", id, hash);
        return (id, hash);
    }

    /// <summary>Runs <paramref name="sql"/> with the site's triggers off for its session: the change sends no notice, as if it was missed.</summary>
    private async Task QuietlyAsync(string sql)
    {
        await using var connection = await Db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var quiet = new Npgsql.NpgsqlCommand("set local session_replication_role = replica", connection, transaction);
        await quiet.ExecuteNonQueryAsync();
        await using var change = new Npgsql.NpgsqlCommand(sql, connection, transaction);
        await change.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    [Fact]
    public async Task BulkSiteChange_ActivatesNoGrains()
    {
        var torrents = new List<(long Id, string Key)>();
        for (var i = 0; i < 300; i++)
        {
            var (id, hash) = await fixture.NewTorrentAsync();
            torrents.Add((id, Convert.ToHexStringLower(hash)));
        }

        var management = Host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var keys = torrents.Select(t => t.Key).ToHashSet();

        // A torrent in use, changed after the bulk: once its grain shows the change, the listener has handled
        // every notice before it, so the count below is not zero merely because nothing was listening.
        var (usedId, usedHash) = await fixture.NewTorrentAsync();
        var (_, passkey) = await fixture.NewUserAsync();
        Assert.Null(FailureReason(await new Announcer(passkey, usedHash, UrlBytes.Random20()).AnnounceAsync(Host, 0, 0, 0, "started")));
        var used = Host.Services.GetRequiredService<IGrainFactory>().GetGrain<ITorrentGrain>(Convert.ToHexStringLower(usedHash));

        // Site-wide freeleech: 300 notices at once, none for a torrent anyone is using.
        await Db.ExecuteAsync("update torrents set download_multiplier = 0 where id = any($1)", torrents.Select(t => t.Id).ToArray());
        await Db.ExecuteAsync("update torrents set download_multiplier = 0 where id = $1", usedId);
        await Eventually.TrueAsync(async () => (await used.GetProfile())!.Multipliers.Download == 0m, "the torrent in use got its notice");

        var live = await management.GetDetailedGrainStatistics();
        // A swarm woken by a notice leaves again once it has read its torrent, so the count alone could miss it; its
        // claim, taken as it read a registered torrent, stays.
        var claimed = await Db.ScalarAsync<long>("select count(*) from tracker_swarms where torrent_id = any($1)", torrents.Select(t => t.Id).ToArray());
        Assert.Equal(0, live.Count(s => keys.Contains(s.GrainId.Key.ToString()!)));
        Assert.Equal(0, claimed);
    }
}
