namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>The values of <see cref="TrackerClusterOptions.Mode"/>.</summary>
public static class ClusterModes
{
    public const string Embedded = "Embedded";
    public const string Client = "Client";
}
