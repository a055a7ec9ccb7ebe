namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>How statistics travel from swarms to the site. Section "Stats".</summary>
public sealed class StatsOptions
{
    public const string Section = "Stats";

    /// <summary>
    /// How often swarms hand accounted traffic to user grains, and user grains write to the site. Traffic
    /// reaches the site's tables within about two intervals of the announce that reported it.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);
}
