namespace Chihaya.Orleans.Grains.Interfaces.Model;

/// <summary>Whether the site lets a registered torrent be tracked.</summary>
[Alias("Chihaya.TorrentStatus")]
public enum TorrentStatus : byte
{
    /// <summary>Tracked normally.</summary>
    Active = 0,
    /// <summary>Deleted on the site; announces are refused with the site's reason.</summary>
    Deleted = 1,
}
