using System.Globalization;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;
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
/// a live silo's row gone, which Orleans itself never deletes) it writes back the missing rows and the version in one
/// transaction, so the running silos find themselves in it, and no table newer than their view lacks one of them.
/// Any silo may restore at the same time as others, or as a new silo writes: every step is conditional on what it
/// read, and a step that loses reads again.
/// </summary>
internal sealed partial class RestoringMembershipTable : IMembershipTable, IAsyncDisposable, IDisposable
{
    // RedisMembershipTable's field for the table version, beside one field per silo.
    private const string VersionField = "Version";

    // One step writes everything; the others are for steps lost to silos writing at the same time.
    private const int RestoreSteps = 8;

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
    /// Writes back the known rows that are missing (or behind) and the version, all in one transaction on the version
    /// this step read (a step that loses to another writer reads again). One transaction, because readers take any table newer than
    /// theirs: rows written one at a time would show a newer table with a running silo missing for a moment, and a
    /// client closes its connection to a gateway gone from its list, with requests in flight.
    /// The version written is the known one, which readers that knew it leave alone; one above it when the table also
    /// holds silos this silo did not know (they joined the emptied table), so that readers take them in. A table
    /// already at or past the known version (silos joined meanwhile) only gets the running silos it lacks, one above.
    /// Returns whether the table now holds every row this silo knew, at a version no lower than the known one.
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
            var wrote = false;
            var logged = false;
            for (var step = 0; step < RestoreSteps; step++)
            {
                var version = await redis.HashGetAsync(_key, VersionField).WaitAsync(cancellationToken);
                var table = version.IsNull ? null : await _inner.ReadAllAsync(cancellationToken);
                var older = table is null || table.Version.Version < known.Version.Version;
                var rowsToWrite = known.Members
                    .Select(row => row.Item1)
                    .Where(entry => table?.TryGet(entry.SiloAddress)?.Item1 is not { } stored
                        // An older table lost every row it lacks; one at least as new may lack only rows Orleans deletes (dead silos').
                        ? older || entry.Status != SiloStatus.Dead
                        // Written back by a silo that knew less: a silo's status only moves on (Joining, Active, ShuttingDown,
                        // Stopping, Dead), and a row left behind would stay so, since its silo never writes that status again.
                        : stored.Status < entry.Status)
                    .ToList();
                var joinedMeanwhile = table is not null && table.Members.Any(row => known.TryGet(row.Item1.SiloAddress) is null);
                int restored;
                if (older)
                {
                    restored = known.Version.Version + (joinedMeanwhile ? 1 : 0);
                }
                else if (rowsToWrite.Count > 0 || (joinedMeanwhile && table!.Version.Version == known.Version.Version))
                {
                    restored = table!.Version.Version + 1;
                }
                else
                {
                    if (wrote)
                    {
                        Log.Restored(_logger, table!.Version.Version, table.Members.Count);
                    }

                    return true;
                }

                if (!logged)
                {
                    Log.Restoring(_logger, _key.ToString(), version.IsNull ? "none" : version.ToString(), rowsToWrite.Count, restored);
                    logged = true;
                }

                var transaction = redis.CreateTransaction();
                transaction.AddCondition(version.IsNull ? Condition.HashNotExists(_key, VersionField) : Condition.HashEqual(_key, VersionField, version));
                foreach (var entry in rowsToWrite)
                {
                    _ = transaction.HashSetAsync(_key, entry.SiloAddress.ToString(), MembershipRow.Serialize(entry));
                }

                // Orleans writes the version as a plain invariant integer, and compares it as text.
                _ = transaction.HashSetAsync(_key, VersionField, restored.ToString(CultureInfo.InvariantCulture));
                wrote |= await transaction.ExecuteAsync().WaitAsync(cancellationToken);
            }

            Log.RestoreUnfinished(_logger, RestoreSteps);
            return false;
        }
        finally
        {
            _restoring.Release();
        }
    }

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

    /// <summary>
    /// A row as Orleans' Redis table stores it: the entry in Json.NET's default form, a silo address as an object with
    /// its parsable string, times in UTC. A restore writes the rows in the same transaction as the version, which
    /// Orleans' table cannot do; <c>RestoringMembershipTableTests</c> reads them back through Orleans' table, and its
    /// heartbeat (which edits the row's <c>IAmAliveTime</c> in place) runs on them.
    /// </summary>
    private static class MembershipRow
    {
        private static readonly JsonSerializerSettings Settings = new()
        {
            Formatting = Formatting.None,
            TypeNameHandling = TypeNameHandling.None,
            DefaultValueHandling = DefaultValueHandling.Include,
            DateTimeZoneHandling = DateTimeZoneHandling.Utc,
            Culture = CultureInfo.InvariantCulture,
            Converters = { new SiloAddressAsParsableString() },
        };

        public static string Serialize(MembershipEntry entry) => JsonConvert.SerializeObject(entry, Settings);

        private sealed class SiloAddressAsParsableString : JsonConverter<SiloAddress>
        {
            public override bool CanRead => false;

            public override void WriteJson(JsonWriter writer, SiloAddress? value, JsonSerializer serializer)
            {
                writer.WriteStartObject();
                writer.WritePropertyName("SiloAddress");
                writer.WriteValue(value!.ToParsableString());
                writer.WriteEndObject();
            }

            public override SiloAddress ReadJson(JsonReader reader, Type objectType, SiloAddress? existingValue, bool hasExistingValue, JsonSerializer serializer) =>
                throw new NotSupportedException("Rows are only written here; Orleans' table reads them.");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Redis lost the membership table {Key} (version {Found}): writing back {Rows} rows this silo knew, at version {Version}")]
        public static partial void Restoring(ILogger logger, string key, string found, int rows, int version);

        [LoggerMessage(2, LogLevel.Warning, "Membership table restored: version {Version}, {Rows} rows")]
        public static partial void Restored(ILogger logger, int version, int rows);

        [LoggerMessage(3, LogLevel.Warning, "Restoring the membership table did not finish in {Steps} steps (other silos writing at the same time); the next read tries again")]
        public static partial void RestoreUnfinished(ILogger logger, int steps);
    }
}
