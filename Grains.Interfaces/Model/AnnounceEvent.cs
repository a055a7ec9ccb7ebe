namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>The <c>event</c> parameter of an announce (BEP 3, plus BEP 21's <c>paused</c>).</summary>
[Alias("Chihaya.AnnounceEvent")]
public enum AnnounceEvent : byte
{
    /// <summary>A regular interval announce (absent or empty <c>event</c>).</summary>
    None = 0,
    Started = 1,
    Completed = 2,
    Stopped = 3,
    /// <summary>BEP 21: the client keeps the torrent but is not downloading.</summary>
    Paused = 4,
}
