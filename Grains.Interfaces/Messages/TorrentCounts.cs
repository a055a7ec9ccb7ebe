namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>A torrent's scrape figures (BEP 48).</summary>
/// <param name="IsRegistered">False for an info hash the site does not track (left out of scrape replies).</param>
/// <param name="Complete">Seeders.</param>
/// <param name="Incomplete">Leechers.</param>
/// <param name="Downloaded">Snatches.</param>
[GenerateSerializer, Immutable, Alias("Chihaya.TorrentCounts")]
public sealed record TorrentCounts(
    [property: Id(0)] bool IsRegistered,
    [property: Id(1)] int Complete,
    [property: Id(2)] int Incomplete,
    [property: Id(3)] long Downloaded)
{
    /// <summary>The answer for an info hash the site does not track.</summary>
    public static TorrentCounts Unregistered { get; } = new(false, 0, 0, 0);
}
