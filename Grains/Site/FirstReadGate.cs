using Chihaya.Orleans.Grains.Database;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// Bounds the site reads that clients cause, of a user or a torrent this silo holds no answer for (a first announce, a
/// scrape, an unknown passkey or info hash), to a quarter of the database pool's connections at once (at least one). A flood of
/// distinct unknown keys, which no cache can answer, otherwise took every connection while the database was slow, and
/// the swarms' statistics writes and claims waited for one until they failed. Past the quarter a read waits
/// <see cref="Wait"/>, then is refused as the site unavailable. Re-reads of what the silo holds (change notices, the
/// periodic re-reads) never wait here, so a flood cannot make the silo drop the users it holds; a registered torrent's
/// claim does not either (it may wait long on a lock, see TorrentGrain.ReloadProfileAsync).
/// </summary>
internal sealed class FirstReadGate
{
    /// <summary>
    /// How long a read waits for a slot: an announce of an unknown torrent by an uncached user may wait twice (the
    /// torrent's, then the user's within its 3 s), and both must fit in the gateway's 5 s response timeout, past which
    /// the gateway takes the silo for gone and calls again.
    /// </summary>
    internal static readonly TimeSpan Wait = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _slots;

    public FirstReadGate(IOptions<SiteOptions> siteOptions, IOptions<DatabaseOptions> databaseOptions)
    {
        Slots = SiteStores.IsPostgres(siteOptions.Value.Store) ? Math.Max(1, PoolSize(databaseOptions.Value.ConnectionString) / 4) : int.MaxValue;
        _slots = new SemaphoreSlim(Slots);
    }

    /// <summary>How many first reads may be out at once.</summary>
    public int Slots { get; }

    /// <summary>Takes a slot for the read of <paramref name="what"/> (a user, a torrent); dispose it when the read has ended.</summary>
    public async ValueTask<Slot> EnterAsync(string what)
    {
        if (!await _slots.WaitAsync(Wait).ConfigureAwait(false))
        {
            throw new SiteUnavailableException(
                $"the site's database is slow: all {Slots} first reads of users and torrents a silo may have at once were still out after {Wait.TotalSeconds:0.#} s, so the {what}'s read was not sent");
        }

        return new Slot(_slots);
    }

    private static int PoolSize(string connectionString)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString).MaxPoolSize;
        }
        catch (ArgumentException)
        {
            // The data source reports a connection string it cannot read, with the setting's name; Npgsql's default here.
            return new NpgsqlConnectionStringBuilder().MaxPoolSize;
        }
    }

    /// <summary>A slot held for one read.</summary>
    public readonly struct Slot(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }
}
