using System.Collections.Immutable;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Npgsql;
using NpgsqlTypes;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site's PostgreSQL database (schema in <c>deploy/sql/</c>). Reads happen when a grain activates or
/// is told the site changed; statistics arrive in batches, one round trip and one transaction each, applied exactly once.
/// Commands are auto-prepared by the data source.
/// </summary>
internal sealed class PostgresSiteStore(NpgsqlDataSource dataSource, TimeProvider time) : ISiteStore
{
    private const string ApplyUsageSql = """
        with batch as (
            insert into tracker_applied_batches as applied (source, sequence) values ($1, $2)
            on conflict (source) do update set sequence = excluded.sequence, applied_at = now()
                where applied.sequence < excluded.sequence
            returning 1
        ), users_updated as (
            update users u set
                raw_uploaded = least(u.raw_uploaded::numeric + v.raw_up, 9223372036854775807)::bigint,
                raw_downloaded = least(u.raw_downloaded::numeric + v.raw_down, 9223372036854775807)::bigint,
                credited_uploaded = least(u.credited_uploaded::numeric + v.credit_up, 9223372036854775807)::bigint,
                credited_downloaded = least(u.credited_downloaded::numeric + v.credit_down, 9223372036854775807)::bigint
            from unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
                as v(id, raw_up, raw_down, credit_up, credit_down)
            where u.id = v.id and exists (select from batch)
            returning 1
        ), torrents_updated as (
            update torrents t set
                raw_uploaded = least(t.raw_uploaded::numeric + v.raw_up, 9223372036854775807)::bigint,
                raw_downloaded = least(t.raw_downloaded::numeric + v.raw_down, 9223372036854775807)::bigint,
                credited_uploaded = least(t.credited_uploaded::numeric + v.credit_up, 9223372036854775807)::bigint,
                credited_downloaded = least(t.credited_downloaded::numeric + v.credit_down, 9223372036854775807)::bigint,
                seeders = v.seeders,
                leechers = v.leechers
            from unnest($8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::integer[], $14::integer[])
                as v(id, raw_up, raw_down, credit_up, credit_down, seeders, leechers)
            where t.id = v.id and exists (select from batch)
            returning 1
        ), history_updated as (
            -- completed_at is left to CompleteHistorySql, which counts the snatches.
            insert into user_torrents as h (user_id, torrent_id, raw_uploaded, raw_downloaded, credited_uploaded,
                credited_downloaded, seeding_seconds, last_announce_at)
            select v.user_id, v.torrent_id, v.raw_up, v.raw_down, v.credit_up, v.credit_down, v.seeding, v.last_announce
            from unnest($15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[],
                        $22::timestamptz[])
                as v(user_id, torrent_id, raw_up, raw_down, credit_up, credit_down, seeding, last_announce)
            where exists (select from batch)
            on conflict (user_id, torrent_id) do update set
                raw_uploaded = least(h.raw_uploaded::numeric + excluded.raw_uploaded, 9223372036854775807)::bigint,
                raw_downloaded = least(h.raw_downloaded::numeric + excluded.raw_downloaded, 9223372036854775807)::bigint,
                credited_uploaded = least(h.credited_uploaded::numeric + excluded.credited_uploaded, 9223372036854775807)::bigint,
                credited_downloaded = least(h.credited_downloaded::numeric + excluded.credited_downloaded, 9223372036854775807)::bigint,
                seeding_seconds = h.seeding_seconds + excluded.seeding_seconds,
                last_announce_at = greatest(h.last_announce_at, excluded.last_announce_at)
            returning 1
        )
        select count(*) from batch
        """;

    // Run after ApplyUsageSql in the same transaction, so the history rows exist. A snatch is a history row's
    // completed_at going from NULL to a time: once per user and torrent, whichever batch, source or retry brings
    // it, and with no check of the batch's novelty needed (a batch applied before set the time already). The
    // update re-reads a row another transaction changed meanwhile, so two writers cannot both count it.
    private const string CompleteHistorySql = """
        with completed as (
            update user_torrents h set completed_at = v.completed
            from unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) as v(user_id, torrent_id, completed)
            where h.user_id = v.user_id and h.torrent_id = v.torrent_id and h.completed_at is null
            returning h.torrent_id
        ), snatches_added as (
            update torrents t set snatches = t.snatches + c.snatches
            from (select torrent_id, count(*) as snatches from completed group by torrent_id) c
            where t.id = c.torrent_id
            returning 1
        )
        select count(*) from completed
        """;

    public async ValueTask<UserProfile?> FindUserAsync(string userKey, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "select id, upload_multiplier, download_multiplier, can_leech, freeleech_until from users where passkey_digest = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = Convert.FromHexString(userKey) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new UserProfile(
            reader.GetInt64(0),
            new Multipliers(reader.GetDecimal(1), reader.GetDecimal(2)),
            reader.GetBoolean(3),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4));
    }

    public async ValueTask<TorrentProfile?> FindTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            select t.id, t.status, t.deleted_reason, t.upload_multiplier, t.download_multiplier, t.snatches,
                   array(select f.user_id from freeleech_tokens f where f.torrent_id = t.id and f.expires_at > $2 order by f.user_id),
                   array(select f.expires_at from freeleech_tokens f where f.torrent_id = t.id and f.expires_at > $2 order by f.user_id)
            from torrents t where t.info_hash = $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = infoHash.Value.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var tokenUsers = reader.GetFieldValue<long[]>(6);
        var tokenExpiries = reader.GetFieldValue<DateTimeOffset[]>(7);
        return new TorrentProfile(
            reader.GetInt64(0),
            reader.GetString(1) == "deleted" ? TorrentStatus.Deleted : TorrentStatus.Active,
            reader.IsDBNull(2) ? null : reader.GetString(2),
            new Multipliers(reader.GetDecimal(3), reader.GetDecimal(4)),
            reader.GetInt64(5),
            tokenUsers.Length == 0 ? null : tokenUsers.Zip(tokenExpiries).ToImmutableDictionary(pair => pair.First, pair => pair.Second));
    }

    public async ValueTask<long> ApplyUsageAsync(UsageWrite write, CancellationToken cancellationToken = default)
    {
        // One round trip, one transaction (a batch without an explicit one is PostgreSQL's implicit transaction).
        await using var batch = dataSource.CreateBatch();
        var usage = new NpgsqlBatchCommand(ApplyUsageSql);
        var parameters = usage.Parameters;
        parameters.Add(new NpgsqlParameter { Value = write.Source });
        parameters.Add(new NpgsqlParameter { Value = write.Sequence });
        AddColumn(parameters, write.Users, u => u.UserId);
        AddColumn(parameters, write.Users, u => u.Traffic.RawUploaded);
        AddColumn(parameters, write.Users, u => u.Traffic.RawDownloaded);
        AddColumn(parameters, write.Users, u => u.Traffic.CreditedUploaded);
        AddColumn(parameters, write.Users, u => u.Traffic.CreditedDownloaded);
        AddColumn(parameters, write.Torrents, t => t.TorrentId);
        AddColumn(parameters, write.Torrents, t => t.Traffic.RawUploaded);
        AddColumn(parameters, write.Torrents, t => t.Traffic.RawDownloaded);
        AddColumn(parameters, write.Torrents, t => t.Traffic.CreditedUploaded);
        AddColumn(parameters, write.Torrents, t => t.Traffic.CreditedDownloaded);
        parameters.Add(new NpgsqlParameter { Value = write.Torrents.Select(t => t.Seeders).ToArray() });
        parameters.Add(new NpgsqlParameter { Value = write.Torrents.Select(t => t.Leechers).ToArray() });
        var history = write.History;
        AddColumn(parameters, history, h => h.UserId);
        AddColumn(parameters, history, h => h.TorrentId);
        AddColumn(parameters, history, h => h.Traffic.RawUploaded);
        AddColumn(parameters, history, h => h.Traffic.RawDownloaded);
        AddColumn(parameters, history, h => h.Traffic.CreditedUploaded);
        AddColumn(parameters, history, h => h.Traffic.CreditedDownloaded);
        AddColumn(parameters, history, h => h.SeedingSeconds);
        parameters.Add(new NpgsqlParameter { Value = history.Select(h => h.LastAnnounceAt.UtcDateTime).ToArray() });
        batch.BatchCommands.Add(usage);

        var completions = history.Where(h => h.CompletedAt is not null).ToList();
        if (completions.Count == 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
            return 0;
        }

        var complete = new NpgsqlBatchCommand(CompleteHistorySql);
        AddColumn(complete.Parameters, completions, h => h.UserId);
        AddColumn(complete.Parameters, completions, h => h.TorrentId);
        complete.Parameters.Add(new NpgsqlParameter { Value = completions.Select(h => h.CompletedAt!.Value.UtcDateTime).ToArray() });
        batch.BatchCommands.Add(complete);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetInt64(0);
    }

    public async ValueTask RetireSourceAsync(string source, CancellationToken cancellationToken = default)
    {
        // Marks this source and forgets a few whose grace has passed, oldest first; the two never touch the same
        // row (one wants retired_at unset, the other set). Times come from the tracker's clock, like the grace.
        await using var command = dataSource.CreateCommand("""
            with retired as (
                update tracker_applied_batches set retired_at = $2 where source = $1 and retired_at is null
            ), forgotten as (
                delete from tracker_applied_batches where source in (
                    select source from tracker_applied_batches where retired_at < $3 order by retired_at limit $4)
            )
            select 1
            """);
        var now = time.GetUtcNow();
        command.Parameters.Add(new NpgsqlParameter { Value = source });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = now - RetiredSources.Grace });
        command.Parameters.Add(new NpgsqlParameter { Value = RetiredSources.ForgetAtOnce });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask<string?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default)
    {
        // A passkey reset changes the passkey of an existing id: report the old one so its cache is dropped.
        await using var command = dataSource.CreateCommand("""
            with previous as (select passkey_digest from users where id = $1)
            insert into users as u (id, passkey, upload_multiplier, download_multiplier, can_leech, freeleech_until)
            values ($1, $2, $3, $4, $5, $6)
            on conflict (id) do update set passkey = excluded.passkey, upload_multiplier = excluded.upload_multiplier,
                download_multiplier = excluded.download_multiplier, can_leech = excluded.can_leech,
                freeleech_until = excluded.freeleech_until
            returning (select encode(passkey_digest, 'hex') from previous where passkey_digest <> u.passkey_digest)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = profile.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = passkey.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Upload });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Download });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.CanLeech });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)profile.FreeleechUntil ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("delete from users where passkey_digest = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = Convert.FromHexString(passkey.ToUserKey()) });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async ValueTask PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            insert into torrents (id, info_hash, status, deleted_reason, upload_multiplier, download_multiplier)
            values ($1, $2, $3, $4, $5, $6)
            on conflict (id) do update set info_hash = excluded.info_hash, status = excluded.status,
                deleted_reason = excluded.deleted_reason, upload_multiplier = excluded.upload_multiplier,
                download_multiplier = excluded.download_multiplier
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = profile.TorrentId });
        command.Parameters.Add(new NpgsqlParameter { Value = infoHash.Value.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Status == TorrentStatus.Deleted ? "deleted" : "active" });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)profile.DeletedReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Upload });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Download });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("delete from torrents where info_hash = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = infoHash.Value.ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async ValueTask<IReadOnlyList<byte[]>> GetAllowedClientPrefixesAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("select peer_id_prefix from allowed_clients");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var prefixes = new List<byte[]>();
        while (await reader.ReadAsync(cancellationToken))
        {
            prefixes.Add(reader.GetFieldValue<byte[]>(0));
        }

        return prefixes;
    }

    public async ValueTask<UserTorrentUsage?> GetUserTorrentAsync(long userId, long torrentId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            select raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded, seeding_seconds, completed_at, last_announce_at
            from user_torrents where user_id = $1 and torrent_id = $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = torrentId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new UserTorrentUsage(
            userId,
            torrentId,
            new Traffic(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)),
            reader.GetInt64(4),
            reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
            reader.GetFieldValue<DateTimeOffset>(6));
    }

    public ValueTask<Traffic> GetUserTrafficAsync(long userId, CancellationToken cancellationToken = default) =>
        ReadTrafficAsync("users", userId, cancellationToken);

    public ValueTask<Traffic> GetTorrentTrafficAsync(long torrentId, CancellationToken cancellationToken = default) =>
        ReadTrafficAsync("torrents", torrentId, cancellationToken);

    private async ValueTask<Traffic> ReadTrafficAsync(string table, long id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"select raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded from {table} where id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new Traffic(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : default;
    }

    private static void AddColumn<T>(NpgsqlParameterCollection parameters, IReadOnlyList<T> rows, Func<T, long> column)
    {
        var values = new long[rows.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = column(rows[i]);
        }

        parameters.Add(new NpgsqlParameter { Value = values });
    }
}
