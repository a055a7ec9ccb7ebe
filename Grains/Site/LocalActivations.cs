using System.Collections.Concurrent;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The torrent grains active on this silo, named as the database's change notices name them
/// (<c>torrent:&lt;info hash&gt;</c>). A notice for a grain not active here needs no work on this silo: an inactive
/// grain reads the site when it activates, and the silo hosting an active one refreshes it. So a bulk change on
/// the site activates nothing and is handled once per grain.
/// </summary>
internal sealed class LocalActivations
{
    private readonly ConcurrentDictionary<string, int> _active = new(StringComparer.Ordinal);

    private const string TorrentPrefix = "torrent:";

    public static string Torrent(string infoHashKey) => TorrentPrefix + infoHashKey;

    public void Add(string name) => _active.AddOrUpdate(name, 1, static (_, count) => count + 1);

    public void Remove(string name)
    {
        // Counted, because a new activation may start before the old one has finished deactivating.
        if (_active.AddOrUpdate(name, 0, static (_, count) => count - 1) <= 0)
        {
            _active.TryRemove(new KeyValuePair<string, int>(name, 0));
        }
    }

    public bool Contains(string name) => _active.ContainsKey(name);

    /// <summary>The grain keys (info hashes in hex) of the torrent grains active here.</summary>
    public IEnumerable<string> Torrents()
    {
        foreach (var (name, _) in _active)
        {
            if (name.StartsWith(TorrentPrefix, StringComparison.Ordinal))
            {
                yield return name[TorrentPrefix.Length..];
            }
        }
    }
}
