using System.Text.Json;
using Chihaya.Orleans.Grains.Interfaces.Documents;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// Fills the in-memory site from its seed file. The file is checked before the start (<see cref="SeedFileValidator"/>),
/// so a broken seed is one line naming the setting, and never quotes a passkey.
/// </summary>
internal static class SiteSeedLoader
{
    public static async Task LoadAsync(string path, ISiteStore store, CancellationToken cancellationToken)
    {
        var (seed, problem) = Read(path);
        if (seed is null)
        {
            throw new InvalidDataException(problem);
        }

        foreach (var user in seed.Users)
        {
            await store.PutUserAsync(new Passkey(user.Passkey!), user.ToProfile(out _), cancellationToken);
        }

        foreach (var torrent in seed.Torrents)
        {
            InfoHash.TryParseHex(torrent.InfoHash, out var infoHash);
            await store.PutTorrentAsync(infoHash, torrent.ToProfile(out _), cancellationToken);
        }
    }

    /// <summary>The seed, or what is wrong with it (one line naming the setting, the file and the entry).</summary>
    public static (SiteSeed? Seed, string? Problem) Read(string path)
    {
        SiteSeed seed;
        try
        {
            seed = SiteSeed.Read(path);
        }
        catch (Exception exception) when (exception is JsonException or InvalidDataException or IOException)
        {
            return (null, $"Site:SeedFile {path} cannot be read: {exception.Message}");
        }

        if (seed.Users is null || seed.Torrents is null || seed.Users.Any(user => user is null) || seed.Torrents.Any(torrent => torrent is null))
        {
            return (null, $"Site:SeedFile {path}: \"users\" and \"torrents\" must be lists of objects, without nulls.");
        }

        // Loaded one after another into the store, a passkey, info hash or id given twice would stop the start with the
        // store's conflict, or let the later entry replace the earlier one unseen.
        var (userIds, passkeys, torrentIds, infoHashes) = (new HashSet<long>(), new HashSet<string>(StringComparer.Ordinal), new HashSet<long>(), new HashSet<InfoHash>());
        foreach (var user in seed.Users)
        {
            user.ToProfile(out var error);
            // The passkey itself is never quoted: a seed file may hold real ones.
            error ??= user.Passkey is null || !Passkeys.IsWellFormed(user.Passkey) ? $"the passkey must be {Passkeys.MinLength} to {Passkeys.MaxLength} letters and digits" : null;
            error ??= !userIds.Add(user.Id) ? "the id is given to more than one user" : null;
            error ??= !passkeys.Add(user.Passkey!) ? "its passkey is another user's too" : null;
            if (error is not null)
            {
                return (null, $"Site:SeedFile {path}: user {user.Id}: {error}.");
            }
        }

        foreach (var torrent in seed.Torrents)
        {
            torrent.ToProfile(out var error);
            var wellFormed = InfoHash.TryParseHex(torrent.InfoHash, out var infoHash);
            error ??= wellFormed ? null : "the info hash must be 40 hex characters";
            error ??= !torrentIds.Add(torrent.Id) ? "the id is given to more than one torrent" : null;
            error ??= !infoHashes.Add(infoHash) ? "its info hash is another torrent's too" : null;
            if (error is not null)
            {
                return (null, $"Site:SeedFile {path}: torrent {torrent.Id}: {error}.");
            }
        }

        return (seed, null);
    }
}

/// <summary>Checks the in-memory site's seed file with the other settings, before anything starts.</summary>
internal sealed class SeedFileValidator : IValidateOptions<SiteOptions>
{
    public ValidateOptionsResult Validate(string? name, SiteOptions options) =>
        SiteStores.IsPostgres(options.Store) || options.ResolveSeedFile() is not { } path || !File.Exists(path)
            ? ValidateOptionsResult.Success
            : SiteSeedLoader.Read(path).Problem is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
