using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces;

/// <summary>
/// The site's users as the silo that takes the call knows them, for callers that are not swarms (a scrape checks
/// its passkey here). Announces need no such call: the swarm checks the user in the same silo's directory.
/// Always called with key 0; each silo answers from its own cache, so it runs where it is called.
/// </summary>
[Alias("Chihaya.IUserDirectoryGrain")]
public interface IUserDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// The user behind this passkey digest, or null when the site knows no such passkey. Throws
    /// <see cref="Messages.SiteUnavailableException"/> when the site cannot be read in time (the database away or slow).
    /// </summary>
    [Alias("FindUser")]
    ValueTask<UserProfile?> FindUser(UserKey user);
}
