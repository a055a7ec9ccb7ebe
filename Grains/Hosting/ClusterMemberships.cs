namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>The values of <see cref="TrackerClusterOptions.Membership"/>.</summary>
public static class ClusterMemberships
{
    public const string Localhost = "Localhost";
    public const string Redis = "Redis";

    public static bool IsRedis(string membership) => membership.Equals(Redis, StringComparison.OrdinalIgnoreCase);
}
