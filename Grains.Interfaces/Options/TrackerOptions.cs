namespace Chihaya.Orleans.Grains.Interfaces.Options;

/// <summary>Announce timing and reply sizes, shared by gateways (which tell clients) and silos (which prune). Section "Tracker".</summary>
public sealed class TrackerOptions
{
    public const string Section = "Tracker";

    /// <summary>The <c>interval</c> clients are told to wait between announces.</summary>
    public TimeSpan AnnounceInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The <c>min interval</c> clients must not announce more often than.</summary>
    public TimeSpan MinAnnounceInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A peer silent for longer is removed from its swarm. Must exceed <see cref="AnnounceInterval"/>.</summary>
    public TimeSpan PeerTimeout { get; set; } = TimeSpan.FromMinutes(65);

    /// <summary>How often each swarm looks for silent peers, with no request needed to trigger it.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Peers returned when the client sends no <c>numwant</c>.</summary>
    public int DefaultNumWant { get; set; } = 50;

    /// <summary>The most peers one reply holds, whatever <c>numwant</c> asks.</summary>
    public int MaxNumWant { get; set; } = 200;
}
