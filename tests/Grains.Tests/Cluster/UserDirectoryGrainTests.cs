using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.DependencyInjection;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>
/// The user directory a scrape asks before it reads its torrents: users whose reads a slow database holds do not hold
/// up the others. The silo's wait for a read is lengthened here far past the test's deadline, so only calls that
/// really run beside the held ones are answered in time (the 3 s bound alone would free a busy worker).
/// </summary>
public sealed class UserDirectoryGrainTests : ReadHoldingCluster<UserDirectoryGrainTests.Silo>
{
    [Fact]
    public async Task FindUser_WhileAsManyUsersFirstReadsAreHeldAsTheSiloHasCores_CachedUsersAreStillAnswered()
    {
        // What a scrape asks before it reads its torrents. The directory's grain is a stateless worker, one per core.
        var directory = Cluster.GrainFactory.GetGrain<IUserDirectoryGrain>(0);
        var cached = new Passkey(Guid.NewGuid().ToString("N"));
        await Admin.PutUser(cached, new UserProfile(509, Multipliers.Neutral, true));
        Assert.NotNull(await directory.FindUser(cached.ToUserKey()));
        var waiting = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => new Passkey(Guid.NewGuid().ToString("N"))).ToList();
        for (var i = 0; i < waiting.Count; i++)
        {
            await Admin.PutUser(waiting[i], new UserProfile(510 + i, Multipliers.Neutral, true));
        }

        // Those users are new to this silo, and the database is slow to answer each of their reads.
        var reads = waiting.Select(passkey => Store.HoldNextRead(passkey.ToUserKey().ToHex())).ToList();
        var pending = waiting.Select(passkey => directory.FindUser(passkey.ToUserKey()).AsTask()).ToList();
        UserProfile? meanwhile;
        try
        {
            await Task.WhenAll(reads.Select(read => read.Read)).WaitAsync(Deadline);
            meanwhile = await directory.FindUser(cached.ToUserKey()).AsTask().WaitAsync(Deadline);
        }
        finally
        {
            reads.ForEach(read => read.Release());
        }

        var answers = await Task.WhenAll(pending.Select(find => find.WaitAsync(Deadline)));

        Assert.Equal(509, meanwhile?.UserId);
        Assert.Equal(Enumerable.Range(510, waiting.Count), answers.Select(answer => (int)answer!.UserId));
    }

    public sealed class Silo : ReadHoldingSilo
    {
        protected override void ConfigureOptions(IServiceCollection services)
        {
            services.Configure<SiteOptions>(options => options.UserReadWait = TimeSpan.FromMinutes(10));
        }
    }
}
