using Chihaya.Orleans.Grains.Interfaces.Documents;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>Fills the in-memory site from its seed file; a broken seed stops the start with a clear message.</summary>
internal static class SiteSeedLoader
{
    public static async Task LoadAsync(string path, ISiteStore store, CancellationToken cancellationToken)
    {
        var seed = SiteSeed.Read(path);

        foreach (var user in seed.Users)
        {
            var profile = user.ToProfile(out var error);
            if (error is not null || string.IsNullOrEmpty(user.Passkey))
            {
                throw new InvalidDataException($"Seed file {path}: user {user.Id}: {error ?? "passkey missing"}.");
            }

            await store.PutUserAsync(new Passkey(user.Passkey), profile, cancellationToken);
        }

        foreach (var torrent in seed.Torrents)
        {
            var profile = torrent.ToProfile(out var error);
            if (error is not null || !InfoHash.TryParseHex(torrent.InfoHash, out var infoHash))
            {
                throw new InvalidDataException($"Seed file {path}: torrent {torrent.Id}: {error ?? "info hash must be 40 hex characters"}.");
            }

            await store.PutTorrentAsync(infoHash, profile, cancellationToken);
        }
    }
}
