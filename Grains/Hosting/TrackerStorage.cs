namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>Names of the grain storage providers the tracker's grains use.</summary>
public static class TrackerStorage
{
    /// <summary>Swarms and user sums: in memory for the embedded tracker, PostgreSQL in production.</summary>
    public const string Grains = "tracker";
}
