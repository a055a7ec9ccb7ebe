using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Tests.Faults;
using Chihaya.Orleans.Grains.Users;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Users;

/// <summary>
/// How long a silo keeps a user it is not asked for: as long as its swarms stay, so a user announcing once an interval
/// is answered from memory (no query, and through a database outage) whatever interval the operator sets. And what a
/// read the database cannot answer costs: a refusal as unavailable, and a log line every ten seconds, not per read.
/// </summary>
public sealed class UserDirectoryTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly InMemorySiteStore _site = new();
    private readonly Passkey _passkey = new("userdirectorytestpasskey00000001");

    [Fact]
    public async Task UserAnnouncingOnceATwoHourInterval_StaysHeldBetweenAnnounces()
    {
        var users = await DirectoryHoldingTheUserAsync(new TrackerOptions
        {
            AnnounceInterval = TimeSpan.FromHours(2),
            MinAnnounceInterval = TimeSpan.FromHours(1),
            PeerTimeout = TimeSpan.FromHours(2) + TimeSpan.FromMinutes(15),
        });

        _clock.Advance(TimeSpan.FromHours(2));
        await users.SweepAsync();

        Assert.True(users.TryGet(_passkey.ToUserKey(), out var profile));
        Assert.Equal(7, profile?.UserId);
    }

    [Fact]
    public async Task UserUnused_IsForgottenWhenAnUnusedSwarmWouldBe_NotBefore()
    {
        // The defaults: a swarm stays the peer timeout (65 min) and 5 minutes more.
        var tracker = new TrackerOptions();
        var users = await DirectoryHoldingTheUserAsync(tracker);

        _clock.Advance(tracker.PeerTimeout + TimeSpan.FromMinutes(4));
        await users.SweepAsync();
        // Holds, not TryGet: an answer from the directory is a use, and would keep the user a while more.
        var heldAMinuteBefore = users.Holds(_passkey.ToUserKey());
        _clock.Advance(TimeSpan.FromMinutes(1));
        await users.SweepAsync();

        Assert.True(heldAMinuteBefore);
        Assert.False(users.Holds(_passkey.ToUserKey()));
    }

    [Fact]
    public async Task ReadsFailingWhileTheDatabaseIsAway_AreRefusedAsUnavailable_AndLoggedOnceEveryTenSeconds()
    {
        var site = new FaultInjectingSiteStore(_site) { ReadsFail = true };
        var logger = new FakeLogger<UserDirectory>();
        var users = new UserDirectory(site, NoReadLimit, Options.Create(new SiteOptions()), Options.Create(new TrackerOptions()), _clock, logger);
        var refusals = new List<Exception?>();

        // Each a user new to this silo, as a flood of first announces after a restart would be.
        for (var i = 0; i < 5; i++)
        {
            refusals.Add(await Record.ExceptionAsync(() => users.GetOrUnavailableAsync(new Passkey($"userdirectorydownpasskey{i:D8}").ToUserKey()).AsTask()));
        }

        _clock.Advance(TimeSpan.FromSeconds(10));
        refusals.Add(await Record.ExceptionAsync(() => users.GetOrUnavailableAsync(_passkey.ToUserKey()).AsTask()));
        var warnings = logger.Collector.GetSnapshot().Where(record => record.Level == LogLevel.Warning).ToList();

        Assert.All(refusals, refusal => Assert.Contains("injected", Assert.IsType<SiteUnavailableException>(refusal).Message, StringComparison.Ordinal));
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, warning => Assert.IsType<TimeoutException>(warning.Exception));
        Assert.Equal(["1", "5"], warnings.Select(warning => warning.StructuredState!.Single(pair => pair.Key == "Failures").Value));
    }

    [Fact]
    public async Task FirstReadsTakingEverySlot_RefuseTheNextFirstRead_ButNeitherHoldANoticesReRead_NorTheUsersHeld()
    {
        // A silo on PostgreSQL with a pool of 4 connections: one slot for first reads.
        var gate = new FirstReadGate(
            Options.Create(new SiteOptions { Store = SiteStores.Postgres }),
            Options.Create(new DatabaseOptions { ConnectionString = "Host=localhost;Maximum Pool Size=4" }));
        var site = new ReadHoldingSiteStore(_site);
        await _site.PutUserAsync(_passkey, new UserProfile(7, Multipliers.Neutral, CanLeech: true));
        var users = new UserDirectory(site, gate, Options.Create(new SiteOptions()), Options.Create(new TrackerOptions()), _clock, NullLogger<UserDirectory>.Instance);
        Assert.NotNull(await users.GetAsync(_passkey.ToUserKey()));

        // An unknown passkey's read that the database does not answer takes the slot.
        var unknown = new Passkey("userdirectoryunknownpasskey00001").ToUserKey();
        var unanswered = site.HoldNextRead(unknown.ToHex());
        var unknownsRead = users.GetAsync(unknown).AsTask();
        await unanswered.Read.WaitAsync(TimeSpan.FromSeconds(30));
        var nextFirstRead = await Record.ExceptionAsync(() => users.GetOrUnavailableAsync(new Passkey("userdirectoryunknownpasskey00002").ToUserKey()).AsTask());
        // The site changes the user this silo holds, and says so.
        await _site.PutUserAsync(_passkey, new UserProfile(7, Multipliers.Neutral, CanLeech: false));
        await users.ReloadAsync(_passkey.ToUserKey()).WaitAsync(TimeSpan.FromSeconds(30));
        var heldAfterTheNotice = users.TryGet(_passkey.ToUserKey(), out var profile);
        unanswered.Release();
        await unknownsRead;

        Assert.Equal(1, gate.Slots);
        Assert.Contains("the site's database is slow", Assert.IsType<SiteUnavailableException>(nextFirstRead).Message, StringComparison.Ordinal);
        Assert.True(heldAfterTheNotice);
        Assert.False(profile?.CanLeech);
    }

    /// <summary>The gate of a silo whose site is in memory: it never makes a read wait.</summary>
    private static FirstReadGate NoReadLimit => new(Options.Create(new SiteOptions()), Options.Create(new DatabaseOptions()));

    private async Task<UserDirectory> DirectoryHoldingTheUserAsync(TrackerOptions tracker)
    {
        await _site.PutUserAsync(_passkey, new UserProfile(7, Multipliers.Neutral, CanLeech: true));
        // Re-reads held users only daily here: the test is about forgetting, not the safety-net re-read.
        var users = new UserDirectory(
            _site,
            NoReadLimit,
            Options.Create(new SiteOptions { RefreshInterval = TimeSpan.FromDays(1) }),
            Options.Create(tracker),
            _clock,
            NullLogger<UserDirectory>.Instance);
        Assert.NotNull(await users.GetAsync(_passkey.ToUserKey()));
        return users;
    }
}
