namespace Chihaya.Orleans.Grains.Interfaces.Documents;

/// <summary>The seed file of the in-memory site: the users and torrents the embedded tracker starts with.</summary>
public sealed record SiteSeed
{
    public IReadOnlyList<UserDocument> Users { get; init; } = [];

    public IReadOnlyList<TorrentDocument> Torrents { get; init; } = [];
}
