using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Users;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Chihaya.Orleans.Grains.Tests.Users;

/// <summary>
/// How long a silo keeps a user it is not asked for: as long as its swarms stay, so a user announcing once an interval
/// is answered from memory (no query, and through a database outage) whatever interval the operator sets.
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
    public async Task UserUnusedLongerThanASwarmStays_IsForgotten()
    {
        var tracker = new TrackerOptions();
        var users = await DirectoryHoldingTheUserAsync(tracker);

        _clock.Advance(tracker.PeerTimeout + TimeSpan.FromMinutes(5));
        await users.SweepAsync();

        Assert.False(users.TryGet(_passkey.ToUserKey(), out _));
    }

    private async Task<UserDirectory> DirectoryHoldingTheUserAsync(TrackerOptions tracker)
    {
        await _site.PutUserAsync(_passkey, new UserProfile(7, Multipliers.Neutral, CanLeech: true));
        // Re-reads held users only daily here: the test is about forgetting, not the safety-net re-read.
        var users = new UserDirectory(
            _site,
            Options.Create(new SiteOptions { RefreshInterval = TimeSpan.FromDays(1) }),
            Options.Create(tracker),
            _clock,
            NullLogger<UserDirectory>.Instance);
        Assert.NotNull(await users.GetAsync(_passkey.ToUserKey()));
        return users;
    }
}
