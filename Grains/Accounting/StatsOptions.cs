namespace Chihaya.Orleans.Grains.Accounting;

/// <summary>How statistics travel from swarms to the site. Section "Stats".</summary>
public sealed class StatsOptions
{
    public const string Section = "Stats";

    /// <summary>
    /// How often each swarm writes the peers that changed and the statistics credited from them (a silo's swarms
    /// together). Traffic reaches the site's tables within about one interval of the announce that reported it, and a
    /// crash forgets at most the announces of the last interval (see the README's crash bound).
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);
}
