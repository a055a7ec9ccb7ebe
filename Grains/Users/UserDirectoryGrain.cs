using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// A window onto this silo's <see cref="UserDirectory"/>: stateless, so it runs on the silo that is called. Reentrant:
/// a stateless worker takes one call at a time, and there are only as many as cores, so a few users' reads held by a
/// slow database would otherwise hold up every scrape on the silo, cached users' too. Each read is bounded as an
/// announce's is.
/// </summary>
[GrainType("userdirectory")]
[StatelessWorker]
[Reentrant]
internal sealed class UserDirectoryGrain(UserDirectory users) : Grain, IUserDirectoryGrain
{
    public ValueTask<UserProfile?> FindUser(UserKey user) => users.GetOrUnavailableAsync(user);
}
