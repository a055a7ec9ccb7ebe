using System.Globalization;
using Microsoft.Extensions.Logging;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>
/// Orleans' Redis membership table, with the memory to put back what Redis lost. Redis restarted without persistence
/// (or a failover that lost writes) leaves the cluster's hash empty: Orleans then fails every read ("the Redis membership
/// table version is missing"), and whoever starts next writes Version 0 again, a table the running silos take for the
/// past (their views only move to higher versions), so they never see it, split off, or find themselves missing and stop.
/// This table remembers the newest membership it read or wrote; when Redis has lost it (no version, a lower version, or
/// a live silo's row gone, which Orleans itself never deletes) it writes back the missing rows and then a higher version,
/// so the running silos see a newer table with themselves in it, and no table newer than their view lacks one of them. Any silo may restore at the same time as others, or as a
/// new silo writes: every step is conditional on what it read, and a step that loses reads again.
/// </summary>
internal sealed partial class RestoringMembershipTable : IMembershipTable, IAsyncDisposable, IDisposable
{
    // RedisMembershipTable's field for the table version, beside one field per silo.
    private const string VersionField = "Version";

    // One conditional write per missing row, plus the version; a few more for steps lost to silos writing at the same time.
    private const int SpareSteps = 8;

    // What Orleans writes into an empty Redis.
    private static readonly TableVersion EmptyTableVersion = new(0, "0");

    private readonly IMembershipTable _inner;
    private readonly RedisClusteringOptions _redisOptions;
    private readonly RedisKey _key;
    private readonly ILogger _logger;
    // One restore at a time in this silo: the heartbeat and a table refresh may both notice the loss.
    private readonly SemaphoreSlim _restoring = new(1, 1);
    private readonly Lock _gate = new();
    private MembershipTableData? _known;
    private IConnectionMultiplexer? _redis;
    private bool _redisIsShared;

    public RestoringMembershipTable(IMembershipTable inner, RedisClusteringOptions redisOptions, ClusterOptions clusterOptions, ILogger<RestoringMembershipTable> logger)
    {
        _inner = inner;
        _redisOptions = redisOptions;
        _key = redisOptions.CreateRedisKey(clusterOptions);
        _logger = logger;
    }

    private MembershipTableData? Known
    {
        get
        {
            lock (_gate)
            {
                return _known;
            }
        }
    }

    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default)
    {
        await _inner.InitializeMembershipTableAsync(tryInitTableVersion, cancellationToken);
        await _restoring.WaitAsync(cancellationToken);
        try
        {
            // A connection of our own: Orleans' table exposes none, and restoring needs conditional writes of the version.
            if (_redis is null)
            {
                (_redis, _redisIsShared) = await _redisOptions.CreateMultiplexer(_redisOptions).WaitAsync(cancellationToken);
            }
        }
        finally
        {
            _restoring.Release();
        }
    }

    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default)
    {
        // Deleted on purpose: nothing to put back.
        lock (_gate)
        {
            _known = null;
        }

        await _inner.DeleteMembershipTableEntriesAsync(clusterId, cancellationToken);
    }

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        MembershipTableData? table = null;
        try
        {
            table = await _inner.ReadAllAsync(cancellationToken);
        }
        catch (RedisClusteringException) when (Known is not null)
        {
            // The version is missing: restored below.
        }

        if (table is null || IsBehind(table))
        {
            await RestoreAsync(cancellationToken);
            table = await _inner.ReadAllAsync(cancellationToken);
            if (IsBehind(table))
            {
                // Handing this table on would tell Orleans its own silo is gone; a failed read is only retried.
                throw new RedisClusteringException($"The Redis membership table is missing rows or versions this silo knew, and restoring them did not finish: {table}");
            }
        }

        Remember(table);
        return table;
    }

    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default) =>
        RetriedAfterRestoreAsync(token => _inner.ReadRowAsync(key, token), cancellationToken);

    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        // A failed insert needs nothing here: Orleans reads the table again (restoring it) before it tries again.
        var inserted = await _inner.InsertRowAsync(entry, tableVersion, cancellationToken);
        if (inserted)
        {
            RememberWritten(entry, tableVersion);
        }

        return inserted;
    }

    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        var updated = await _inner.UpdateRowAsync(entry, etag, tableVersion, cancellationToken);
        if (updated)
        {
            RememberWritten(entry, tableVersion);
        }

        return updated;
    }

    // The heartbeat fails on its own row being gone (a Lua error), every 10 s: the first to notice a loss.
    public Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default) =>
        RetriedAfterRestoreAsync(async token =>
        {
            await _inner.UpdateIAmAliveAsync(entry, token);
            return true;
        }, cancellationToken);

    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default) =>
        RetriedAfterRestoreAsync(async token =>
        {
            await _inner.CleanupDefunctSiloEntriesAsync(beforeDate, token);
            return true;
        }, cancellationToken);

    // The interface's older methods, without cancellation; Orleans 10 calls the ones above.
    public Task InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion);

    public Task DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId);

    public Task<MembershipTableData> ReadRow(SiloAddress key) => ReadRowAsync(key);

    public Task<MembershipTableData> ReadAll() => ReadAllAsync();

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion);

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion);

    public Task UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry);

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate);

    /// <summary>Runs <paramref name="call"/>; if Redis failed it and restoring leaves the table whole, runs it once more.</summary>
    private async Task<T> RetriedAfterRestoreAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(cancellationToken);
        }
        catch (Exception exception) when (exception is RedisClusteringException or RedisServerException && Known is not null && !cancellationToken.IsCancellationRequested)
        {
            if (!await RestoreAsync(cancellationToken))
            {
                throw;
            }
        }

        return await call(cancellationToken);
    }

    /// <summary>
    /// Whether Redis holds less than this silo knew: no version (the read threw), a lower one, or a row gone of a silo that
    /// was not dead (Orleans deletes only dead silos' rows).
    /// </summary>
    private bool IsBehind(MembershipTableData table)
    {
        var known = Known;
        return known is not null
            && (table.Version.Version < known.Version.Version
                || known.Members.Any(row => row.Item1.Status != SiloStatus.Dead && table.TryGet(row.Item1.SiloAddress) is null));
    }

    /// <summary>
    /// Writes back each known row that is missing, then a version above the known one, one conditional write per step.
    /// Rows first: Orleans' insert moves the version up by one per row from wherever the emptied table begins, which is
    /// below the known version, and readers (a silo's view, a client's gateway list) take only a table newer than the
    /// one they have. Written the other way round, a reader could take a newer table with a running silo missing, and a
    /// client closes its connection to a gateway gone from the list, with requests in flight.
    /// Returns whether the table now holds every row this silo knew, at a version above the known one.
    /// </summary>
    private async Task<bool> RestoreAsync(CancellationToken cancellationToken)
    {
        await _restoring.WaitAsync(cancellationToken);
        try
        {
            var known = Known;
            if (known is null || _redis is null)
            {
                return false;
            }

            var redis = _redis.GetDatabase();
            var wrote = 0;
            var logged = false;
            for (var step = 0; step < known.Members.Count + SpareSteps; step++)
            {
                if ((await redis.HashGetAsync(_key, VersionField).WaitAsync(cancellationToken)).IsNull)
                {
                    // Begun as Orleans begins an empty table, so that rows can be inserted after it.
                    if (!logged)
                    {
                        Log.Restoring(_logger, _key.ToString(), "none", known.Members.Count, known.Version.Version);
                        logged = true;
                    }

                    await WriteVersionAsync(redis, seen: null, EmptyTableVersion, cancellationToken);
                    continue;
                }

                var table = await _inner.ReadAllAsync(cancellationToken);
                var missing = known.Members.FirstOrDefault(row => table.TryGet(row.Item1.SiloAddress) is null);
                if (missing is not null)
                {
                    if (!logged)
                    {
                        Log.Restoring(_logger, _key.ToString(), Serialized(table.Version), known.Members.Count, known.Version.Version);
                        logged = true;
                    }

                    // Orleans' own insert: it fails (and the next step reads again) if anyone wrote since this read.
                    if (await _inner.InsertRowAsync(missing.Item1, table.Version.Next(), cancellationToken))
                    {
                        wrote++;
                    }

                    continue;
                }

                if (table.Version.Version > known.Version.Version)
                {
                    // Put back, by this silo or another.
                    return true;
                }

                // Every known row is back: now a version above the known one, which every reader takes as newer. (Also
                // when nothing was lost, only a Redis call failed: a newer table with the same rows changes nothing.)
                var restored = known.Version.Version + 1;
                if (await WriteVersionAsync(redis, table.Version, new TableVersion(restored, restored.ToString(CultureInfo.InvariantCulture)), cancellationToken))
                {
                    Log.Restored(_logger, wrote + 1, restored);
                    return true;
                }
            }

            Log.RestoreUnfinished(_logger, known.Members.Count + SpareSteps);
            return false;
        }
        finally
        {
            _restoring.Release();
        }
    }

    /// <summary>
    /// Sets the version to <paramref name="version"/>, only if it is still <paramref name="seen"/> (null: absent).
    /// </summary>
    private async Task<bool> WriteVersionAsync(IDatabase redis, TableVersion? seen, TableVersion version, CancellationToken cancellationToken)
    {
        var transaction = redis.CreateTransaction();
        transaction.AddCondition(seen is null ? Condition.HashNotExists(_key, VersionField) : Condition.HashEqual(_key, VersionField, Serialized(seen)));
        _ = transaction.HashSetAsync(_key, VersionField, Serialized(version));
        return await transaction.ExecuteAsync().WaitAsync(cancellationToken);
    }

    // Orleans writes the version as a plain invariant integer, and compares it as text.
    private static string Serialized(TableVersion version) => version.Version.ToString(CultureInfo.InvariantCulture);

    private void Remember(MembershipTableData table)
    {
        lock (_gate)
        {
            if (_known is null || table.Version.Version >= _known.Version.Version)
            {
                _known = table;
            }
        }
    }

    /// <summary>
    /// A silo's own writes count as known too: it moves to Active (or ShuttingDown) at a version nobody may have read
    /// before Redis loses it, and a restore without that row would leave the silo out of a newer table.
    /// </summary>
    private void RememberWritten(MembershipEntry entry, TableVersion written)
    {
        lock (_gate)
        {
            if (_known is null || written.Version <= _known.Version.Version)
            {
                return;
            }

            var etag = written.Version.ToString(CultureInfo.InvariantCulture);
            var rows = _known.Members.Where(row => !row.Item1.SiloAddress.Equals(entry.SiloAddress)).Append(Tuple.Create(entry, etag)).ToList();
            _known = new MembershipTableData(rows, new TableVersion(written.Version, etag));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null && !_redisIsShared)
        {
            await _redis.DisposeAsync();
        }

        _restoring.Dispose();
    }

    public void Dispose()
    {
        if (_redis is not null && !_redisIsShared)
        {
            _redis.Dispose();
        }

        _restoring.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Redis lost the membership table {Key} (version {Found}): writing back the {Rows} rows this silo knew, then version {Version}")]
        public static partial void Restoring(ILogger logger, string key, string found, int rows, int version);

        [LoggerMessage(2, LogLevel.Warning, "Membership table restored with {Writes} writes from this silo, at version {Version}")]
        public static partial void Restored(ILogger logger, int writes, int version);

        [LoggerMessage(3, LogLevel.Warning, "Restoring the membership table did not finish in {Steps} steps (other silos writing at the same time); the next read tries again")]
        public static partial void RestoreUnfinished(ILogger logger, int steps);
    }
}
