using System.Collections.Concurrent;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The torrent grains active on this silo, by info hash. A change notice for a grain not active here needs no work on
/// this silo: an inactive grain reads the site when it activates, and the silo hosting an active one refreshes it. So
/// a bulk change on the site activates nothing and is handled once per grain.
/// </summary>
internal sealed class LocalActivations
{
    // Counted, because a new activation may start before the old one has finished deactivating.
    private readonly ConcurrentDictionary<InfoHash, int> _active = new();

    public void Add(InfoHash torrent) => _active.AddOrUpdate(torrent, 1, static (_, count) => count + 1);

    public void Remove(InfoHash torrent)
    {
        if (_active.AddOrUpdate(torrent, 0, static (_, count) => count - 1) <= 0)
        {
            _active.TryRemove(new KeyValuePair<InfoHash, int>(torrent, 0));
        }
    }

    public bool Contains(InfoHash torrent) => _active.ContainsKey(torrent);

    /// <summary>The info hashes of the torrent grains active here.</summary>
    public IEnumerable<InfoHash> Torrents()
    {
        foreach (var (torrent, _) in _active)
        {
            yield return torrent;
        }
    }
}
