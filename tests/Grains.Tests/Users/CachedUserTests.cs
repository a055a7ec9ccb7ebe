using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Users;

namespace Chihaya.Orleans.Grains.Tests.Users;

/// <summary>
/// Which answer a cached user gives after a re-read the site asked for failed: never one read before that re-read
/// started, since it may predate the site's change (a ban, a revoked passkey).
/// </summary>
public sealed class CachedUserTests
{
    private static readonly UserProfile BeforeTheChange = new(1, Multipliers.Neutral, CanLeech: true);
    private static readonly UserProfile AfterTheChange = new(1, Multipliers.Neutral, CanLeech: false);

    [Fact]
    public async Task CurrentAgainThroughAnotherRead_AnswersThatRead_NotTheFirstReadsOldProfile()
    {
        var user = new CachedUser();
        Assert.Same(BeforeTheChange, await user.SharedRead(entry => ReadAsync(entry, BeforeTheChange)));
        user.RereadFailed(user.StartRead());
        // The next notice's re-read answers (not a shared read): the entry is current again.
        user.Apply(user.StartRead(), 0, AfterTheChange);

        var answer = await user.SharedRead(_ => throw new InvalidOperationException("no read is needed: the entry is current"));

        Assert.Same(AfterTheChange, answer);
    }

    [Fact]
    public async Task SharedReadInFlight_StartedBeforeAReReadThatFailed_IsNotJoined()
    {
        var user = new CachedUser();
        var held = new TaskCompletionSource<UserProfile?>();
        var older = user.SharedRead(entry => ApplyWhenAsync(entry, held.Task));
        // The site changes the user; the notice's re-read fails while the older read is still out.
        user.RereadFailed(user.StartRead());

        var newer = user.SharedRead(entry => ReadAsync(entry, AfterTheChange));
        held.SetResult(BeforeTheChange);

        Assert.NotSame(older, newer);
        Assert.Same(AfterTheChange, await newer);
        Assert.True(user.IsCurrent);
        Assert.Same(AfterTheChange, user.Profile);
    }

    [Fact]
    public async Task SharedReadThatFailed_IsTheAnswerForAMoment_SoTheDatabaseIsNotAskedAgainByEveryCaller()
    {
        var user = new CachedUser();
        var reads = 0;
        Task<UserProfile?> FailingRead(CachedUser entry)
        {
            Interlocked.Increment(ref reads);
            entry.StartRead();
            return Task.FromException<UserProfile?>(new TimeoutException("the database did not answer"));
        }

        var first = user.SharedRead(FailingRead);
        var next = user.SharedRead(FailingRead);

        await Assert.ThrowsAsync<TimeoutException>(() => first);
        await Assert.ThrowsAsync<TimeoutException>(() => next);
        Assert.Equal(1, reads);
        Assert.True(user.SharedReadFailed);
        Assert.False(user.IsCurrent);
    }

    private static Task<UserProfile?> ReadAsync(CachedUser user, UserProfile profile) => ApplyWhenAsync(user, Task.FromResult<UserProfile?>(profile));

    private static async Task<UserProfile?> ApplyWhenAsync(CachedUser user, Task<UserProfile?> answer)
    {
        var read = user.StartRead();
        var profile = await answer;
        user.Apply(read, 0, profile);
        return user.Profile;
    }
}
