using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Orleans.Concurrency;

namespace Chihaya.Orleans.Grains.Users;

/// <summary>A window onto this silo's <see cref="UserDirectory"/>: stateless, so it runs on the silo that is called.</summary>
[GrainType("userdirectory")]
[StatelessWorker]
internal sealed class UserDirectoryGrain(UserDirectory users) : Grain, IUserDirectoryGrain
{
    public ValueTask<UserProfile?> FindUser(UserKey user) => users.GetAsync(user);
}
