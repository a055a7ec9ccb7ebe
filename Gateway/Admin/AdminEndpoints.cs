using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Interfaces.Documents;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Gateway.Admin;

/// <summary>
/// The site's admin API under <c>/admin</c>: users by passkey and torrents by hex info hash, each with
/// PUT (add or change), DELETE and GET (profile plus statistics written back so far).
/// </summary>
internal static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        // The PUT handlers read their bodies themselves (AdminJsonBody): a bound body would be read before the filter.
        var admin = endpoints.MapGroup("/admin").AddEndpointFilter<AdminTokenFilter>().AddEndpointFilter<AdminUnavailableFilter>();
        admin.MapPut("/users/{passkey}", PutUser);
        admin.MapDelete("/users/{passkey}", async (string passkey, IGrainFactory grains) =>
            !Passkeys.IsWellFormed(passkey) ? BadPasskey()
            : await Admin(grains).RemoveUser(new Passkey(passkey)) ? Results.NoContent() : Results.NotFound());
        admin.MapGet("/users/{passkey}", GetUser);
        admin.MapPut("/torrents/{infoHash}", PutTorrent);
        admin.MapDelete("/torrents/{infoHash}", async (string infoHash, IGrainFactory grains) =>
            !InfoHash.TryParseHex(infoHash, out var hash) ? BadInfoHash()
            : await Admin(grains).RemoveTorrent(hash) ? Results.NoContent() : Results.NotFound());
        admin.MapGet("/torrents/{infoHash}", GetTorrent);
        return endpoints;
    }

    private static async Task<IResult> PutUser(string passkey, HttpRequest request, IGrainFactory grains)
    {
        if (!Passkeys.IsWellFormed(passkey))
        {
            return BadPasskey();
        }

        var (document, refusal) = await AdminJsonBody.ReadAsync<UserDocument>(request);
        if (document is null)
        {
            return refusal!;
        }

        if (document.Passkey is not null && document.Passkey != passkey)
        {
            // A GET's document edited into a passkey reset would otherwise answer 204 and change nothing.
            return Results.BadRequest(new { error = "the body's passkey is not the path's: a passkey reset is a PUT to the new passkey's path, with the user's id" });
        }

        var profile = document.ToProfile(out var error);
        if (error is not null)
        {
            return Results.BadRequest(new { error });
        }

        return await StoredUnlessConflictingAsync(Admin(grains).PutUser(new Passkey(passkey), profile));
    }

    /// <summary>204 once stored; 409 with the site's reason when a key already belongs to another id (nothing changed).</summary>
    private static async Task<IResult> StoredUnlessConflictingAsync(ValueTask put)
    {
        try
        {
            await put;
        }
        catch (SiteConflictException conflict)
        {
            return Results.Conflict(new { error = conflict.Message });
        }

        return Results.NoContent();
    }

    private static async Task<IResult> GetUser(string passkey, IGrainFactory grains)
    {
        if (!Passkeys.IsWellFormed(passkey))
        {
            return BadPasskey();
        }

        var view = await Admin(grains).GetUser(new Passkey(passkey));
        return view is null ? Results.NotFound() : Results.Ok(new
        {
            user = UserDocument.From(view.Passkey.Value, view.Profile),
            stats = StatsDocument(view.Traffic),
        });
    }

    private static async Task<IResult> PutTorrent(string infoHash, HttpRequest request, IGrainFactory grains)
    {
        if (!InfoHash.TryParseHex(infoHash, out var hash))
        {
            return BadInfoHash();
        }

        var (document, refusal) = await AdminJsonBody.ReadAsync<TorrentDocument>(request);
        if (document is null)
        {
            return refusal!;
        }

        if (document.InfoHash is not null && (!InfoHash.TryParseHex(document.InfoHash, out var stated) || stated != hash))
        {
            return Results.BadRequest(new { error = "the body's infoHash is not the path's: a torrent's new info hash is a PUT to that hash's path, with the torrent's id" });
        }

        var profile = document.ToProfile(out var error);
        if (error is not null)
        {
            return Results.BadRequest(new { error });
        }

        return await StoredUnlessConflictingAsync(Admin(grains).PutTorrent(hash, profile));
    }

    private static async Task<IResult> GetTorrent(string infoHash, IGrainFactory grains)
    {
        if (!InfoHash.TryParseHex(infoHash, out var hash))
        {
            return BadInfoHash();
        }

        var view = await Admin(grains).GetTorrent(hash);
        return view is null ? Results.NotFound() : Results.Ok(new
        {
            torrent = TorrentDocument.From(view.InfoHash, view.Profile),
            stats = StatsDocument(view.Traffic),
            snatches = view.Profile.Snatches,
            seeders = view.Swarm.Complete,
            leechers = view.Swarm.Incomplete,
        });
    }

    private static object StatsDocument(Traffic traffic) => new
    {
        rawUploaded = traffic.RawUploaded,
        rawDownloaded = traffic.RawDownloaded,
        creditedUploaded = traffic.CreditedUploaded,
        creditedDownloaded = traffic.CreditedDownloaded,
    };

    private static ISiteAdminGrain Admin(IGrainFactory grains) => grains.GetGrain<ISiteAdminGrain>(0);

    private static IResult BadPasskey() => Results.BadRequest(new { error = "passkey must be 8 to 64 letters and digits" });

    private static IResult BadInfoHash() => Results.BadRequest(new { error = "info hash must be 40 hex characters" });
}
