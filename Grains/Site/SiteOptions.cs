namespace Chihaya.Orleans.Grains.Site;

/// <summary>Where the site's users and torrents come from. Section "Site".</summary>
public sealed class SiteOptions
{
    public const string Section = "Site";

    /// <summary>
    /// <c>Memory</c>: users and torrents held in the silo (the embedded tracker; one silo only).
    /// <c>Postgres</c>: the site's PostgreSQL database (<see cref="Database.DatabaseOptions"/>).
    /// </summary>
    public string Store { get; set; } = SiteStores.Memory;

    /// <summary>
    /// A JSON file of users and torrents the in-memory site starts with (see <c>deploy/seed/demo.json</c>).
    /// Empty: start with none.
    /// </summary>
    public string SeedFile { get; set; } = "";

    /// <summary>
    /// How long a grain remembers that the site has no such passkey or info hash before it is dropped
    /// from memory. A site change reaches the grain at once regardless; this only bounds the memory
    /// that junk keys can hold.
    /// </summary>
    public TimeSpan UnknownKeyLifetime { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How often a cached user or torrent is re-read from the site even when no change notice came: the last safety
    /// net behind the database's notifications (which a silo only misses while its listening connection is down, and
    /// after which it re-reads everything it holds). Long, because every swarm and user held pays for it.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long an announce or a scrape waits for its user to be read from the site (a point read, milliseconds when the
    /// database is well) before it is answered "unavailable"; the read goes on and fills the silo's directory. Below the
    /// gateway's response timeout, and well below a swarm deactivation's 10 s, which waits for running requests before
    /// its flush. Real time, as the database's is. Not a setting (internal, so configuration does not bind it): tests
    /// lengthen it to tell a wait that is bounded from one that is not.
    /// </summary>
    internal TimeSpan UserReadWait { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>The seed file's full path; a relative path is taken from the program's folder.</summary>
    public string? ResolveSeedFile() =>
        string.IsNullOrWhiteSpace(SeedFile) ? null : Path.GetFullPath(SeedFile, AppContext.BaseDirectory);
}
