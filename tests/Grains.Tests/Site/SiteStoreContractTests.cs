using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Site;

/// <summary>
/// What every site store must do alike: the in-memory one of the embedded tracker and the site's PostgreSQL
/// database run this same suite.
/// </summary>
public abstract class SiteStoreContractTests : IAsyncLifetime
{
    private static long _nextId = 1;

    private protected ISiteStore Store { get; set; } = null!;

    /// <summary>The store's clock.</summary>
    private protected FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    /// <summary>Whether the store still knows the source's last sequence.</summary>
    private protected abstract Task<bool> RemembersSourceAsync(string source);

    private static long NextId() => Interlocked.Increment(ref _nextId);

    private static Passkey NewPasskey() => new(Guid.NewGuid().ToString("N"));

    /// <summary>A user and a torrent the store knows, with ids no other test uses.</summary>
    private async Task<(long UserId, long TorrentId)> NewUserAndTorrentAsync()
    {
        var userId = NextId();
        var torrentId = NextId();
        await Store.PutUserAsync(NewPasskey(), new UserProfile(userId, Multipliers.Neutral, true));
        await Store.PutTorrentAsync(InfoHash.Read(UrlBytes.Random20()), new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        return (userId, torrentId);
    }

    private static UsageWrite Write(string source, long sequence, long userId, long torrentId, long bytes, long snatches = 0) => new(
        source,
        sequence,
        [new UserUsage(userId, new Traffic(bytes, bytes * 2, bytes * 3, bytes * 4))],
        [new TorrentUsage(torrentId, new Traffic(bytes, bytes, bytes, bytes), snatches)]);

    [Fact]
    public async Task Find_Unknown_ReturnsNull()
    {
        Assert.Null(await Store.FindUserAsync(NewPasskey().ToUserKey()));
        Assert.Null(await Store.FindTorrentAsync(InfoHash.Read(UrlBytes.Random20())));
    }

    [Fact]
    public async Task PutUser_IsFoundByTheDigestOfItsPasskey()
    {
        var passkey = NewPasskey();
        var profile = new UserProfile(NextId(), new Multipliers(1.5m, 0.25m), false);

        Assert.Null(await Store.PutUserAsync(passkey, profile));

        Assert.Equal(profile, await Store.FindUserAsync(passkey.ToUserKey()));
    }

    [Fact]
    public async Task PutUser_NewPasskeyForKnownId_ReplacesTheOldOne()
    {
        var id = NextId();
        var old = NewPasskey();
        var fresh = NewPasskey();
        await Store.PutUserAsync(old, new UserProfile(id, Multipliers.Neutral, true));

        var replaced = await Store.PutUserAsync(fresh, new UserProfile(id, Multipliers.Neutral, true));

        Assert.Equal(old.ToUserKey(), replaced);
        Assert.Null(await Store.FindUserAsync(old.ToUserKey()));
        Assert.Equal(id, (await Store.FindUserAsync(fresh.ToUserKey()))!.UserId);
    }

    [Fact]
    public async Task RemoveUser_ForgetsIt()
    {
        var passkey = NewPasskey();
        await Store.PutUserAsync(passkey, new UserProfile(NextId(), Multipliers.Neutral, true));

        Assert.True(await Store.RemoveUserAsync(passkey));
        Assert.False(await Store.RemoveUserAsync(passkey));
        Assert.Null(await Store.FindUserAsync(passkey.ToUserKey()));
    }

    [Fact]
    public async Task PutTorrent_StatusReasonAndMultipliersRoundTrip_AndSnatchesSurviveAChange()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        var id = NextId();
        await Store.PutTorrentAsync(hash, new TorrentProfile(id, TorrentStatus.Active, null, new Multipliers(2m, 0m), 0));
        await Store.ApplyUsageAsync(Write("s", 1, NextId(), id, 10, snatches: 3) with
        {
            UserTorrents = [.. Enumerable.Range(0, 3).Select(_ => new UserTorrentUsage(NextId(), id, default, 0, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow))],
        });

        await Store.PutTorrentAsync(hash, new TorrentProfile(id, TorrentStatus.Deleted, "dupe", new Multipliers(2m, 0m), 0));

        var found = await Store.FindTorrentAsync(hash);
        Assert.Equal(new TorrentProfile(id, TorrentStatus.Deleted, "dupe", new Multipliers(2m, 0m), 3), found);
        Assert.True(await Store.RemoveTorrentAsync(hash));
        Assert.Null(await Store.FindTorrentAsync(hash));
    }

    [Fact]
    public async Task ApplyUsage_AddsToUserAndTorrent_AndSkipsABatchAlreadyApplied()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var source = "t:" + Guid.NewGuid();

        await Store.ApplyUsageAsync(Write(source, 1, userId, torrentId, 10));
        await Store.ApplyUsageAsync(Write(source, 1, userId, torrentId, 10));     // a retry of the same batch
        await Store.ApplyUsageAsync(Write(source, 2, userId, torrentId, 5));
        await Store.ApplyUsageAsync(Write(source, 2, userId, torrentId, 5));
        await Store.ApplyUsageAsync(Write("other", 1, userId, torrentId, 1));

        Assert.Equal(new Traffic(16, 32, 48, 64), await Store.GetUserTrafficAsync(userId));
        Assert.Equal(new Traffic(16, 16, 16, 16), await Store.GetTorrentTrafficAsync(torrentId));
    }

    [Fact]
    public async Task ApplyUsage_UserTorrentHistory_AccumulatesKeepsFirstCompletionAndLatestAnnounce()
    {
        var userId = NextId();
        var torrentId = NextId();
        var at = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        var source = "t:" + Guid.NewGuid();
        UserTorrentUsage Row(long bytes, long seeding, DateTimeOffset? completed, DateTimeOffset last) =>
            new(userId, torrentId, new Traffic(bytes, bytes, bytes, 0), seeding, completed, last);

        await Store.ApplyUsageAsync(new UsageWrite(source, 1, [], [], [Row(100, 60, null, at)]));
        await Store.ApplyUsageAsync(new UsageWrite(source, 2, [], [], [Row(50, 30, at.AddHours(1), at.AddHours(1))]));
        await Store.ApplyUsageAsync(new UsageWrite(source, 2, [], [], [Row(50, 30, at.AddHours(1), at.AddHours(1))]));
        await Store.ApplyUsageAsync(new UsageWrite(source, 3, [], [], [Row(1, 0, at.AddHours(2), at.AddHours(2))]));

        var history = await Store.GetUserTorrentAsync(userId, torrentId);

        Assert.Equal(new Traffic(151, 151, 151, 0), history!.Value.Traffic);
        Assert.Equal(90, history.Value.SeedingSeconds);
        Assert.Equal(at.AddHours(1), history.Value.CompletedAt);
        Assert.Equal(at.AddHours(2), history.Value.LastAnnounceAt);
        Assert.Null(await Store.GetUserTorrentAsync(userId, torrentId + 1000));
    }

    [Fact]
    public async Task ApplyUsage_CompletionsOfOneUserOnOneTorrent_CountOneSnatch_WhicheverBatchOrSourceRepeatsThem()
    {
        var torrentId = NextId();
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Store.PutTorrentAsync(hash, new TorrentProfile(torrentId, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        var (alice, bob) = (NextId(), NextId());
        var at = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        UsageWrite Completion(string source, long sequence, long userId, DateTimeOffset completedAt) => new(
            source,
            sequence,
            [],
            [new TorrentUsage(torrentId, default, 1)],
            [new UserTorrentUsage(userId, torrentId, default, 0, completedAt, completedAt)]);
        var swarm = "t:" + Guid.NewGuid();
        var reactivatedSwarm = "t:" + Guid.NewGuid();

        long[] counted =
        [
            await Store.ApplyUsageAsync(Completion(swarm, 1, alice, at)),
            await Store.ApplyUsageAsync(Completion(swarm, 2, alice, at.AddHours(1))),              // another peer id of hers
            await Store.ApplyUsageAsync(Completion(reactivatedSwarm, 1, alice, at.AddHours(2))),   // a swarm that forgot her
        ];
        var afterAlice = (await Store.FindTorrentAsync(hash))!.Snatches;
        counted = [.. counted, await Store.ApplyUsageAsync(Completion(reactivatedSwarm, 2, bob, at.AddHours(3)))];
        counted = [.. counted, await Store.ApplyUsageAsync(Completion(reactivatedSwarm, 2, bob, at.AddHours(3)))];   // a retry

        Assert.Equal([1L, 0, 0, 1, 0], counted);
        Assert.Equal(1, afterAlice);
        Assert.Equal(2, (await Store.FindTorrentAsync(hash))!.Snatches);
        Assert.Equal(at, (await Store.GetUserTorrentAsync(alice, torrentId))!.Value.CompletedAt);
        Assert.Equal(at.AddHours(3), (await Store.GetUserTorrentAsync(bob, torrentId))!.Value.CompletedAt);
    }

    [Fact]
    public async Task RetireSource_ForgottenOnlyAfterTheGrace_AndLiveOrRecentlyRetiredSourcesStillDropResends()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var (live, retired, retiredLater) = ("t:live#" + Guid.NewGuid(), "t:retired#" + Guid.NewGuid(), "t:later#" + Guid.NewGuid());
        await Store.ApplyUsageAsync(Write(live, 1, userId, torrentId, 10));
        await Store.ApplyUsageAsync(Write(retired, 1, userId, torrentId, 10));

        await Store.RetireSourceAsync(retired);
        await Store.ApplyUsageAsync(Write(retired, 1, userId, torrentId, 10));      // a send still on its way
        Clock.Advance(RetiredSources.Grace - TimeSpan.FromMinutes(1));
        await Store.ApplyUsageAsync(Write(retiredLater, 1, userId, torrentId, 10));
        await Store.RetireSourceAsync(retiredLater);
        var rememberedWithinTheGrace = await RemembersSourceAsync(retired);
        Clock.Advance(TimeSpan.FromMinutes(2));
        await Store.RetireSourceAsync("t:never-applied#" + Guid.NewGuid());       // any retirement forgets what is due
        await Store.ApplyUsageAsync(Write(live, 1, userId, torrentId, 10));         // a live source's resend
        await Store.ApplyUsageAsync(Write(retiredLater, 1, userId, torrentId, 10)); // a recently retired one's

        Assert.True(rememberedWithinTheGrace);
        Assert.False(await RemembersSourceAsync(retired));
        Assert.True(await RemembersSourceAsync(retiredLater));
        Assert.True(await RemembersSourceAsync(live));
        Assert.Equal(new Traffic(30, 60, 90, 120), await Store.GetUserTrafficAsync(userId));
    }

    [Fact]
    public async Task ApplyUsage_HugeSums_SaturateInsteadOfFailingOrWrapping()
    {
        var (userId, torrentId) = await NewUserAndTorrentAsync();
        var huge = new Traffic(long.MaxValue, 1, long.MaxValue, 1);
        var source = "t:" + Guid.NewGuid();

        await Store.ApplyUsageAsync(new UsageWrite(source, 1, [new UserUsage(userId, huge)], []));
        await Store.ApplyUsageAsync(new UsageWrite(source, 2, [new UserUsage(userId, huge)], []));

        Assert.Equal(new Traffic(long.MaxValue, 2, long.MaxValue, 2), await Store.GetUserTrafficAsync(userId));
    }
}

public sealed class InMemorySiteStoreTests : SiteStoreContractTests
{
    public override Task InitializeAsync()
    {
        Store = new InMemorySiteStore(Clock);
        return Task.CompletedTask;
    }

    public override Task DisposeAsync() => Task.CompletedTask;

    private protected override Task<bool> RemembersSourceAsync(string source) => Task.FromResult(((InMemorySiteStore)Store).RemembersSource(source));
}

public sealed class PostgresSiteStoreTests : SiteStoreContractTests
{
    private PostgresTestDatabase _database = null!;

    public override async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        Store = new PostgresSiteStore(_database.DataSource, Clock);
    }

    public override async Task DisposeAsync() => await _database.DisposeAsync();

    private protected override async Task<bool> RemembersSourceAsync(string source) =>
        await _database.ScalarAsync<long>("select count(*) from tracker_applied_batches where source = $1", source) > 0;

    [Fact]
    public async Task FindTorrent_ReadsUnexpiredFreeleechTokens()
    {
        var hash = InfoHash.Read(UrlBytes.Random20());
        await Store.PutTorrentAsync(hash, new TorrentProfile(900, TorrentStatus.Active, null, Multipliers.Neutral, 0));
        await Store.PutUserAsync(new Passkey(Guid.NewGuid().ToString("N")), new UserProfile(901, Multipliers.Neutral, true));
        await Store.PutUserAsync(new Passkey(Guid.NewGuid().ToString("N")), new UserProfile(902, Multipliers.Neutral, true));
        await _database.ExecuteAsync("insert into freeleech_tokens values (901, 900, now() + interval '1 day'), (902, 900, now() - interval '1 day')");

        var profile = await Store.FindTorrentAsync(hash);

        Assert.NotNull(profile!.FreeleechTokens);
        Assert.True(profile.FreeleechTokens.ContainsKey(901));
        Assert.False(profile.FreeleechTokens.ContainsKey(902));
        Assert.Equal(0m, profile.For(901, Multipliers.Neutral, DateTimeOffset.UtcNow).Download);
        Assert.Equal(1m, profile.For(902, Multipliers.Neutral, DateTimeOffset.UtcNow).Download);
    }

    [Fact]
    public async Task FindUser_ReadsPersonalFreeleech()
    {
        var passkey = new Passkey(Guid.NewGuid().ToString("N"));
        await Store.PutUserAsync(passkey, new UserProfile(903, Multipliers.Neutral, true));
        await _database.ExecuteAsync("update users set freeleech_until = now() + interval '1 hour' where id = 903");

        var profile = await Store.FindUserAsync(passkey.ToUserKey());

        Assert.Equal(0m, profile!.MultipliersAt(DateTimeOffset.UtcNow).Download);
        Assert.Equal(1m, profile.MultipliersAt(DateTimeOffset.UtcNow.AddHours(2)).Download);
    }
}
