using System.Collections.Immutable;
using System.Net;
using System.Runtime.InteropServices;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Chihaya.Orleans.Grains.Site;

/// <summary>
/// The site's PostgreSQL database (schema in <c>deploy/sql/</c>). Reads happen when a grain activates or
/// is told the site changed; swarms' peers and statistics arrive in flushes, a silo's flushes in one transaction, each fenced by its swarm's claim and applied once.
/// Commands are auto-prepared by the data source.
/// </summary>
internal sealed partial class PostgresSiteStore(NpgsqlDataSource dataSource, TimeProvider time, ILogger<PostgresSiteStore> logger) : ISiteStore
{
    // The flush's transaction begins with this. Every statement of a flush finds its rows by primary key: a few
    // thousand at most, in tables that grow with the site (users, torrents, swarms, peers, history). With PostgreSQL's
    // default costs (random_page_cost 4) the planner chose a whole-table scan, and a hash join over it, for the swarms'
    // claims and flushed sequences (10,000 swarms, about 300 flushes a write: 2.5 and 3.2 ms a write, against 0.7 and
    // 0.2 ms by key), a cost that grows with the table instead of with the flush. Scans are ruled out for this
    // transaction only.
    private const string KeyedRowsOnlySql = "set local enable_seqscan = off";

    // Every statement below runs in the flush's transaction, after the swarms' claims were checked and locked, and
    // only for the flushes that passed. Sums saturate instead of overflowing: a client lying about its totals must
    // fail no one's write.
    // Rows are taken in this order: the swarms' claims (only the write's own, see AdvanceClaimsSql), their peers' and
    // history rows, then users, then torrents (each by id). A site's own transaction that locks more than one of these
    // should take them in the same order. The lock is the one the update itself takes (no key update): it does not wait for rows that merely
    // reference a user or torrent (the key share lock of a foreign key, as a site granting a freeleech token takes
    // until it commits), and two writes whose rows reference the same user cannot deadlock over it.
    // The ids of the rows locked: a user or torrent credited whose row is not among them was deleted by the site.
    private const string LockUsersSql = "select id as locked_user from users where id = any($1) order by id for no key update";

    private const string LockTorrentsSql = "select id as locked_torrent from torrents where id = any($1) order by id for no key update";

    // A peer that left goes from the peers to the departures, which keep when its goodbye was received.
    private const string DepartPeersSql = """
        with gone as (
            delete from tracker_peers p
            using unnest($1::bigint[], $2::bigint[], $3::bytea[]) as v(torrent_id, user_id, peer_id)
            where p.torrent_id = v.torrent_id and p.user_id = v.user_id and p.peer_id = v.peer_id
        )
        insert into tracker_departed_peers as d (torrent_id, user_id, peer_id, received_at, departed_at)
        select * from unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::timestamptz[], $5::timestamptz[])
        on conflict (torrent_id, user_id, peer_id) do update set received_at = excluded.received_at, departed_at = excluded.departed_at
        """;

    // Peers pruned as silent, departures forgotten in time, and the departures of peers that joined again (whose rows
    // are stored again by the statement after this one).
    private const string ForgetPeersSql = """
        with v as (
            select * from unnest($1::bigint[], $2::bigint[], $3::bytea[]) as v(torrent_id, user_id, peer_id)
        ), pruned as (
            delete from tracker_peers p
            using v
            where p.torrent_id = v.torrent_id and p.user_id = v.user_id and p.peer_id = v.peer_id
        )
        delete from tracker_departed_peers d
        using v
        where d.torrent_id = v.torrent_id and d.user_id = v.user_id and d.peer_id = v.peer_id
        """;

    // Rows that exist are updated in place, and only the missing ones inserted. An upsert (insert ... on conflict
    // do update) would lock each existing row before updating it, and PostgreSQL logs that lock: a WAL record per
    // row, a third of the flushes' WAL under the bench load. The upsert stays for the inserts, in case a row
    // appeared meanwhile (the site may make history rows of its own).
    private static readonly string StorePeersSql = $"""
        with v as (
            select * from unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::inet[], $5::integer[], $6::bigint[], $7::bigint[],
                                 $8::boolean[], $9::boolean[], $10::timestamptz[], $11::timestamptz[])
                as v(torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at)
        ), updated as (
            update tracker_peers p set {PeerColumnsFrom("v")}
            from v
            where p.torrent_id = v.torrent_id and p.user_id = v.user_id and p.peer_id = v.peer_id
            returning p.torrent_id, p.user_id, p.peer_id
        )
        insert into tracker_peers as p (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at)
        select v.* from v
        where not exists (select from updated u where u.torrent_id = v.torrent_id and u.user_id = v.user_id and u.peer_id = v.peer_id)
        on conflict (torrent_id, user_id, peer_id) do update set {PeerColumnsFrom("excluded")}
        """;

    /// <summary>A stored peer's columns taken from a flush's row (named <paramref name="row"/>).</summary>
    private static string PeerColumnsFrom(string row) => $"""
        ip = {row}.ip, port = {row}.port, uploaded = {row}.uploaded, downloaded = {row}.downloaded, seeder = {row}.seeder,
            snatched = {row}.snatched, last_announce_at = {row}.last_announce_at, received_at = {row}.received_at
        """;

    private const string AddUserTrafficSql = """
        update users u set
            raw_uploaded = least(u.raw_uploaded::numeric + v.raw_up, 9223372036854775807)::bigint,
            raw_downloaded = least(u.raw_downloaded::numeric + v.raw_down, 9223372036854775807)::bigint,
            credited_uploaded = least(u.credited_uploaded::numeric + v.credit_up, 9223372036854775807)::bigint,
            credited_downloaded = least(u.credited_downloaded::numeric + v.credit_down, 9223372036854775807)::bigint
        from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) as v(id, raw_up, raw_down, credit_up, credit_down)
        where u.id = v.id
        """;

    private const string AddTorrentTrafficSql = """
        update torrents t set
            raw_uploaded = least(t.raw_uploaded::numeric + v.raw_up, 9223372036854775807)::bigint,
            raw_downloaded = least(t.raw_downloaded::numeric + v.raw_down, 9223372036854775807)::bigint,
            credited_uploaded = least(t.credited_uploaded::numeric + v.credit_up, 9223372036854775807)::bigint,
            credited_downloaded = least(t.credited_downloaded::numeric + v.credit_down, 9223372036854775807)::bigint,
            seeders = v.seeders,
            leechers = v.leechers
        from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::integer[], $7::integer[])
            as v(id, raw_up, raw_down, credit_up, credit_down, seeders, leechers)
        where t.id = v.id
        """;

    // completed_at is left to CompleteHistorySql, which counts the snatches. Updated in place and the missing rows
    // inserted, as the peers above.
    private static readonly string AddHistorySql = $"""
        with v as (
            select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                                 $8::timestamptz[])
                as v(user_id, torrent_id, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded, seeding_seconds,
                     last_announce_at)
        ), updated as (
            update user_torrents h set {AddToHistoryRow("v")}
            from v
            where h.user_id = v.user_id and h.torrent_id = v.torrent_id
            returning h.user_id, h.torrent_id
        )
        insert into user_torrents as h (user_id, torrent_id, raw_uploaded, raw_downloaded, credited_uploaded,
            credited_downloaded, seeding_seconds, last_announce_at)
        select v.* from v
        where not exists (select from updated u where u.user_id = v.user_id and u.torrent_id = v.torrent_id)
        on conflict (user_id, torrent_id) do update set {AddToHistoryRow("excluded")}
        """;

    /// <summary>How a flush's row (named <paramref name="added"/>) adds to a history row <c>h</c>.</summary>
    private static string AddToHistoryRow(string added) => $"""
        raw_uploaded = least(h.raw_uploaded::numeric + {added}.raw_uploaded, 9223372036854775807)::bigint,
            raw_downloaded = least(h.raw_downloaded::numeric + {added}.raw_downloaded, 9223372036854775807)::bigint,
            credited_uploaded = least(h.credited_uploaded::numeric + {added}.credited_uploaded, 9223372036854775807)::bigint,
            credited_downloaded = least(h.credited_downloaded::numeric + {added}.credited_downloaded, 9223372036854775807)::bigint,
            seeding_seconds = h.seeding_seconds + {added}.seeding_seconds,
            last_announce_at = greatest(h.last_announce_at, {added}.last_announce_at)
        """;

    // A snatch is a history row's completed_at going from NULL to a time: once per user and torrent, whichever
    // epoch or retry brings it. The update re-reads a row another transaction changed meanwhile, so two writers
    // cannot both count it.
    private const string CompleteHistorySql = """
        with completed as (
            update user_torrents h set completed_at = v.completed
            from unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) as v(user_id, torrent_id, completed)
            where h.user_id = v.user_id and h.torrent_id = v.torrent_id and h.completed_at is null
            returning h.torrent_id
        ), counted as (
            select torrent_id, count(*) as snatches from completed group by torrent_id
        ), snatches_added as (
            update torrents t set snatches = t.snatches + c.snatches from counted c where t.id = c.torrent_id
        )
        select torrent_id, snatches from counted
        """;

    // A write's check is the update of its claims: a swarm's claim moves to the flush's sequence only while it is still
    // the flush's epoch and the flush is the next one, and the update keeps exactly those rows locked until the commit
    // (a newer claim waits for it). The claims it passes over are classified as they were before the update: such a
    // flush was applied by an earlier try (its sequence is there already) or is fenced (a newer claim, no claim, a
    // skipped sequence). Only the activation holding a claim advances it, one flush at a time, so writers need no
    // lock order for claims: a claim's row is locked by the one writer whose epoch it holds or by a new claim (one row
    // alone). Two exceptions, both harmless: a row whose re-check after a wait fails stays locked by the update until
    // the commit; and a resend overlapping its timed-out original can deadlock with it (PostgreSQL ends one, which is
    // resent) or, if the original commits first, reads as one sequence short in this statement's snapshot, so such
    // claims are read again after it (ReadClaimsChangedDuringTheUpdateAsync) and the resend is answered applied. One statement instead of locking every claim (PostgreSQL logs each row lock)
    // and marking the applied ones later. Rows are answered by their flush's position in the write, so two flushes of
    // one swarm in a write (which a swarm never sends: it has one flush out at a time) could not both pass: a claim
    // advances once.
    private const string AdvanceClaimsSql = """
        with v as (
            select * from unnest($1::bigint[], $2::bigint[], $3::bigint[]) with ordinality as v(torrent_id, epoch, sequence, position)
        ), advanced as (
            update tracker_swarms s set flushed_sequence = v.sequence
            from v
            where s.torrent_id = v.torrent_id and s.epoch = v.epoch and s.flushed_sequence = v.sequence - 1
            returning v.position
        )
        select v.position, s.epoch, s.flushed_sequence, exists (select from advanced a where a.position = v.position)
        from v left join tracker_swarms s on s.torrent_id = v.torrent_id
        """;

    public async ValueTask<UserProfile?> FindUserAsync(UserKey userKey, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "select id, upload_multiplier, download_multiplier, can_leech, freeleech_until from users where passkey_digest = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = userKey.ToArray() });
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

    public async ValueTask<SwarmClaim> ClaimSwarmAsync(long torrentId, InfoHash? infoHash = null, CancellationToken cancellationToken = default)
    {
        // One implicit transaction: the claim's row lock waits for a flush of an older claim in progress, and the
        // peers are read after it, so they include that flush, and every later flush of an older claim is refused.
        await using var batch = dataSource.CreateBatch();
        var hash = infoHash is { } known ? known.Value.ToArray() : null;
        if (hash is not null)
        {
            // The claims this one may change, locked in one order (two swarms of a swap claim each other's rows), and
            // waited for here: the statements below each see the last flush of the claims they move rows from.
            var lockClaims = new NpgsqlBatchCommand("select torrent_id from tracker_swarms where torrent_id = $1 or info_hash = $2 order by torrent_id for update");
            lockClaims.Parameters.Add(new NpgsqlParameter { Value = torrentId });
            lockClaims.Parameters.Add(new NpgsqlParameter { Value = hash });
            batch.BatchCommands.Add(lockClaims);
        }

        // rekeyed_from: the info hash the id's claim was for, when the site has given the id another one since.
        var claim = new NpgsqlBatchCommand("""
            insert into tracker_swarms as s (torrent_id, epoch, info_hash) values ($1, nextval('tracker_swarm_epochs'), $2)
            on conflict (torrent_id) do update set epoch = nextval('tracker_swarm_epochs'), flushed_sequence = 0, claimed_at = now(),
                info_hash = coalesce(excluded.info_hash, s.info_hash),
                rekeyed_from = case when s.info_hash <> excluded.info_hash then s.info_hash end
            returning epoch
            """);
        claim.Parameters.Add(new NpgsqlParameter { Value = torrentId });
        claim.Parameters.Add(new NpgsqlParameter { Value = (object?)hash ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        batch.BatchCommands.Add(claim);
        if (hash is not null)
        {
            // The site gave this id another info hash: the id's rows are the old hash's swarm's. They are parked under a
            // claim of their own (a negative id, which no torrent has) that keeps the old hash, so the old hash's next
            // claim takes them over if the site registers it again; otherwise the orphaned-swarm sweep deletes them.
            batch.BatchCommands.Add(MoveSwarmRows(
                """
                select -nextval('tracker_swarm_epochs') as torrent_id, rekeyed_from as info_hash, torrent_id as from_id
                from tracker_swarms where torrent_id = $1 and rekeyed_from is not null
                """,
                "insert into tracker_swarms (torrent_id, epoch, info_hash) select torrent_id, -torrent_id, info_hash from target",
                torrentId,
                hash));

            // The site moved this info hash to a new id: the swarm of the old id (or a parked one) is this one, the
            // same grain, so gone before this activation began. Its claim goes; its peers and departures become this id's.
            batch.BatchCommands.Add(MoveSwarmRows(
                "select $1::bigint as torrent_id, $2::bytea as info_hash, s.torrent_id as from_id from tracker_swarms s where s.info_hash = $2 and s.torrent_id <> $1",
                "delete from tracker_swarms s using target t where s.torrent_id = t.from_id",
                torrentId,
                hash));
        }

        var peers = new NpgsqlBatchCommand("""
            select user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at
            from tracker_peers where torrent_id = $1
            """);
        peers.Parameters.Add(new NpgsqlParameter { Value = torrentId });
        batch.BatchCommands.Add(peers);
        var departures = new NpgsqlBatchCommand("select user_id, peer_id, received_at, departed_at from tracker_departed_peers where torrent_id = $1");
        departures.Parameters.Add(new NpgsqlParameter { Value = torrentId });
        batch.BatchCommands.Add(departures);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        // Only statements that return rows have a result here: the lock's (with an info hash), the claim's epoch, the
        // peers and the departures.
        if (hash is not null)
        {
            await reader.NextResultAsync(cancellationToken);
        }

        await reader.ReadAsync(cancellationToken);
        var epoch = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken);

        var stored = new List<StoredPeer>();
        while (await reader.ReadAsync(cancellationToken))
        {
            stored.Add(new StoredPeer(
                new PeerEntry
                {
                    UserId = reader.GetInt64(0),
                    PeerId = PeerId.Read(reader.GetFieldValue<byte[]>(1)),
                    Endpoint = PeerEndpoint.From(reader.GetFieldValue<IPAddress>(2), reader.GetInt32(3)),
                    Uploaded = reader.GetInt64(4),
                    Downloaded = reader.GetInt64(5),
                    HasSnatched = reader.GetBoolean(7),
                    LastSeen = reader.GetFieldValue<DateTimeOffset>(8).ToUnixTimeSeconds(),
                    ReceivedAt = UnixMicroseconds.From(reader.GetFieldValue<DateTimeOffset>(9)),
                },
                reader.GetBoolean(6)));
        }

        await reader.NextResultAsync(cancellationToken);
        var departed = new List<DepartedPeer>();
        while (await reader.ReadAsync(cancellationToken))
        {
            departed.Add(new DepartedPeer(
                new PeerKey(PeerId.Read(reader.GetFieldValue<byte[]>(1)), reader.GetInt64(0)),
                UnixMicroseconds.From(reader.GetFieldValue<DateTimeOffset>(2)),
                reader.GetFieldValue<DateTimeOffset>(3).ToUnixTimeSeconds()));
        }

        return new SwarmClaim(epoch, stored, departed);
    }

    /// <summary>
    /// Moves the peers and departures of the claims <paramref name="targets"/> selects (columns torrent_id, the id they
    /// move to; info_hash; from_id) to their new id, after <paramref name="claimChange"/> (a statement over those
    /// rows as <c>target</c>) has made or removed the claims concerned. Rows the new id has already are kept.
    /// </summary>
    private static NpgsqlBatchCommand MoveSwarmRows(string targets, string claimChange, long torrentId, byte[] infoHash)
    {
        var move = new NpgsqlBatchCommand($"""
            with target as materialized (
                {targets}
            ), claims as (
                {claimChange}
            ), moved_departures as (
                delete from tracker_departed_peers d using target t where d.torrent_id = t.from_id returning t.torrent_id as to_id, d.*
            ), departures as (
                insert into tracker_departed_peers (torrent_id, user_id, peer_id, received_at, departed_at)
                select to_id, user_id, peer_id, received_at, departed_at from moved_departures
                on conflict do nothing
            ), moved as (
                delete from tracker_peers p using target t where p.torrent_id = t.from_id returning t.torrent_id as to_id, p.*
            )
            insert into tracker_peers (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at)
            select to_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched, last_announce_at, received_at from moved
            on conflict do nothing
            """);
        move.Parameters.Add(new NpgsqlParameter { Value = torrentId });
        move.Parameters.Add(new NpgsqlParameter { Value = infoHash });
        return move;
    }

    /// <summary>
    /// A claim the update passed over although, as the statement saw it before, it was the flush's epoch and one
    /// sequence short, changed while the update waited for its lock: a newer claim took it, or the flush's own earlier
    /// try (a resend overlapping its timed-out original) committed it. Read again in a statement of its own (a fresh
    /// snapshot) to tell the two apart, so the resend is answered as applied rather than fenced, and its activation
    /// keeps what it has not written yet.
    /// </summary>
    private static async Task ReadClaimsChangedDuringTheUpdateAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<SwarmFlush> flushes, (long? Epoch, long? Flushed, bool Advanced)[] claims, CancellationToken cancellationToken)
    {
        var changed = new List<int>();
        for (var i = 0; i < flushes.Count; i++)
        {
            if (!claims[i].Advanced && claims[i].Epoch == flushes[i].Epoch && claims[i].Flushed == flushes[i].Sequence - 1)
            {
                changed.Add(i);
            }
        }

        if (changed.Count == 0)
        {
            return;
        }

        await using var reread = new NpgsqlCommand("select torrent_id, epoch, flushed_sequence from tracker_swarms where torrent_id = any($1)", connection, transaction);
        reread.Parameters.Add(new NpgsqlParameter { Value = changed.Select(i => flushes[i].TorrentId).ToArray() });
        var now = new Dictionary<long, (long Epoch, long Flushed)>();
        await using (var reader = await reread.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                now[reader.GetInt64(0)] = (reader.GetInt64(1), reader.GetInt64(2));
            }
        }

        foreach (var i in changed)
        {
            claims[i] = now.TryGetValue(flushes[i].TorrentId, out var claim) ? (claim.Epoch, claim.Flushed, false) : (null, null, false);
        }
    }

    public async ValueTask<IReadOnlyList<FlushResult>> ApplyFlushesAsync(IReadOnlyList<SwarmFlush> flushes, CancellationToken cancellationToken = default)
    {
        var results = new FlushResult[flushes.Count];
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Claims first: each flush's claim advances to its sequence, or the flush is told apart from there.
        var claims = new (long? Epoch, long? Flushed, bool Advanced)[flushes.Count];
        await using (var check = new NpgsqlBatch(connection, transaction))
        {
            check.BatchCommands.Add(new NpgsqlBatchCommand(KeyedRowsOnlySql));
            var advance = new NpgsqlBatchCommand(AdvanceClaimsSql);
            AddColumn(advance.Parameters, flushes, f => f.TorrentId);
            AddColumn(advance.Parameters, flushes, f => f.Epoch);
            AddColumn(advance.Parameters, flushes, f => f.Sequence);
            check.BatchCommands.Add(advance);
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claims[reader.GetInt64(0) - 1] = (
                    reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.GetBoolean(3));
            }
        }

        await ReadClaimsChangedDuringTheUpdateAsync(connection, transaction, flushes, claims, cancellationToken);
        var applying = new List<SwarmFlush>();
        for (var i = 0; i < flushes.Count; i++)
        {
            var flush = flushes[i];
            var claim = claims[i];
            if (claim.Advanced)
            {
                results[i] = new FlushResult(FlushStatus.Applied);
                applying.Add(flush);
            }
            else if (claim.Epoch == flush.Epoch && flush.Sequence <= claim.Flushed)
            {
                // Applied by an earlier try whose answer was lost.
                results[i] = new FlushResult(FlushStatus.Applied);
            }
            else
            {
                results[i] = FlushResult.Fenced;
            }
        }

        var (usersGone, torrentsGone) = (0, 0);
        if (applying.Count > 0)
        {
            (var snatches, usersGone, torrentsGone) = await ApplyAsync(connection, transaction, applying, cancellationToken);
            for (var i = 0; i < flushes.Count; i++)
            {
                if (snatches.TryGetValue(flushes[i].TorrentId, out var counted) && results[i].Status == FlushStatus.Applied)
                {
                    results[i] = results[i] with { SnatchesCounted = counted };
                }
            }
        }

        await transaction.CommitAsync(cancellationToken);
        if (usersGone > 0 || torrentsGone > 0)
        {
            // After the commit: a write that failed there is resent, and would be counted twice.
            Log.CreditForRowsGone(logger, usersGone, torrentsGone);
        }

        return results;
    }

    /// <summary>
    /// Writes the flushes' peers and statistics in one round trip; returns the snatches counted per torrent, and how many
    /// of the users and torrents it credited with traffic the site no longer has rows for.
    /// </summary>
    private static async Task<(Dictionary<long, long> Snatches, int UsersGone, int TorrentsGone)> ApplyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, List<SwarmFlush> flushes, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);

        // Each column is one array filled straight from the flushes, every column of a statement in the same order
        // (flush by flush, row by row): this runs for every changed peer, and lists of (torrent, row) pairs, grouped
        // and grown as they went, were about an eighth of what a loaded silo allocated.
        var users = TrafficPerUser(flushes);

        var depart = new NpgsqlBatchCommand(DepartPeersSql);
        AddColumn(depart.Parameters, flushes, Departed, static (torrentId, _) => torrentId);
        AddColumn(depart.Parameters, flushes, Departed, static (_, d) => d.Key.UserId);
        AddColumn(depart.Parameters, flushes, Departed, static (_, d) => d.Key.PeerId.Value.ToArray());
        AddColumn(depart.Parameters, flushes, Departed, static (_, d) => UnixMicroseconds.ToDateTime(d.ReceivedAt));
        AddColumn(depart.Parameters, flushes, Departed, static (_, d) => DateTimeOffset.FromUnixTimeSeconds(d.DepartedAt).UtcDateTime);
        batch.BatchCommands.Add(depart);

        var forget = new NpgsqlBatchCommand(ForgetPeersSql);
        AddColumn(forget.Parameters, flushes, Forgotten, static (torrentId, _) => torrentId);
        AddColumn(forget.Parameters, flushes, Forgotten, static (_, key) => key.UserId);
        AddColumn(forget.Parameters, flushes, Forgotten, static (_, key) => key.PeerId.Value.ToArray());
        batch.BatchCommands.Add(forget);

        var store = new NpgsqlBatchCommand(StorePeersSql);
        var parameters = store.Parameters;
        AddColumn(parameters, flushes, Present, static (torrentId, _) => torrentId);
        AddColumn(parameters, flushes, Present, static (_, p) => p.Entry.UserId);
        AddColumn(parameters, flushes, Present, static (_, p) => p.Entry.PeerId.Value.ToArray());
        AddColumn(parameters, flushes, Present, static (_, p) => p.Entry.Endpoint.ToIPAddress());
        AddColumn(parameters, flushes, Present, static (_, p) => (int)p.Entry.Endpoint.Port);
        AddColumn(parameters, flushes, Present, static (_, p) => p.Entry.Uploaded);
        AddColumn(parameters, flushes, Present, static (_, p) => p.Entry.Downloaded);
        AddColumn(parameters, flushes, Present, static (_, p) => p.Seeder);
        AddColumn(parameters, flushes, Present, static (_, p) => p.Entry.HasSnatched);
        AddColumn(parameters, flushes, Present, static (_, p) => DateTimeOffset.FromUnixTimeSeconds(p.Entry.LastSeen).UtcDateTime);
        AddColumn(parameters, flushes, Present, static (_, p) => UnixMicroseconds.ToDateTime(p.Entry.ReceivedAt));
        batch.BatchCommands.Add(store);

        var addHistory = new NpgsqlBatchCommand(AddHistorySql);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.UserId);
        AddColumn(addHistory.Parameters, flushes, History, static (torrentId, _) => torrentId);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.Totals.Traffic.RawUploaded);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.Totals.Traffic.RawDownloaded);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.Totals.Traffic.CreditedUploaded);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.Totals.Traffic.CreditedDownloaded);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.Totals.SeedingSeconds);
        AddColumn(addHistory.Parameters, flushes, History, static (_, h) => h.Totals.LastAnnounceAtUtc);
        batch.BatchCommands.Add(addHistory);

        // The rows other writers share come last, so they are held only from here to the commit: a user's row is
        // credited by every silo whose swarms the user is in (a seedbox is in all), and a write waiting on one swarm's
        // rows (a site's job holding a history row) must not hold up every other silo's writes for its users.
        var lockUsers = new NpgsqlBatchCommand(LockUsersSql);
        AddColumn(lockUsers.Parameters, users, u => u.UserId);
        batch.BatchCommands.Add(lockUsers);

        var lockTorrents = new NpgsqlBatchCommand(LockTorrentsSql);
        var torrentIds = PerFlush(flushes, static f => f.TorrentId);
        Array.Sort(torrentIds);
        lockTorrents.Parameters.Add(new NpgsqlParameter { Value = torrentIds });
        batch.BatchCommands.Add(lockTorrents);

        var addUsers = new NpgsqlBatchCommand(AddUserTrafficSql);
        AddTrafficColumns(addUsers.Parameters, users, u => u.UserId, u => u.Traffic);
        batch.BatchCommands.Add(addUsers);

        var torrents = PerFlush(flushes, static f => f.Torrent);
        var addTorrents = new NpgsqlBatchCommand(AddTorrentTrafficSql);
        AddTrafficColumns(addTorrents.Parameters, torrents, t => t.TorrentId, t => t.Traffic);
        addTorrents.Parameters.Add(new NpgsqlParameter { Value = PerFlush(flushes, static f => f.Torrent.Seeders) });
        addTorrents.Parameters.Add(new NpgsqlParameter { Value = PerFlush(flushes, static f => f.Torrent.Leechers) });
        batch.BatchCommands.Add(addTorrents);

        var completions = new List<(long UserId, long TorrentId, DateTime CompletedAt)>();
        foreach (var flush in flushes)
        {
            for (var i = 0; i < flush.History.Count; i++)
            {
                var (userId, added) = flush.History[i];
                if (added.CompletedAtTicks != 0)
                {
                    completions.Add((userId, flush.TorrentId, added.CompletedAtUtc));
                }
            }
        }

        var complete = new NpgsqlBatchCommand(CompleteHistorySql);
        AddColumn(complete.Parameters, completions, static h => h.UserId);
        AddColumn(complete.Parameters, completions, static h => h.TorrentId);
        complete.Parameters.Add(new NpgsqlParameter { Value = completions.Select(static h => h.CompletedAt).ToArray() });
        batch.BatchCommands.Add(complete);

        var snatches = new Dictionary<long, long>();
        var lockedUsers = new HashSet<long>();
        var lockedTorrents = new HashSet<long>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        // The snatch counts are the only result of two columns, the locks' the only ones of one (the writes' have none).
        do
        {
            var locked = reader.FieldCount != 1 ? null : reader.GetName(0) == "locked_user" ? lockedUsers : lockedTorrents;
            while (reader.FieldCount > 0 && await reader.ReadAsync(cancellationToken))
            {
                if (locked is not null)
                {
                    locked.Add(reader.GetInt64(0));
                }
                else
                {
                    snatches[reader.GetInt64(0)] = reader.GetInt64(1);
                }
            }
        }
        while (await reader.NextResultAsync(cancellationToken));

        var usersGone = users.Count(user => user.Traffic != default && !lockedUsers.Contains(user.UserId));
        var torrentsGone = torrents.Count(torrent => torrent.Traffic != default && !lockedTorrents.Contains(torrent.TorrentId));
        return (snatches, usersGone, torrentsGone);
    }

    public async ValueTask<UserKey?> PutUserAsync(Passkey passkey, UserProfile profile, CancellationToken cancellationToken = default)
    {
        // A passkey reset changes the passkey of an existing id: report the old one so its cache is dropped. Personal
        // freeleech (freeleech_until) is the site's own column, which a profile from the admin API does not describe:
        // left as it is.
        // A passkey another user holds is looked for first, so the usual conflict writes no error to PostgreSQL's log.
        // One taken meanwhile is refused by the digest's unique key, whose violation quotes the digest, never the
        // passkey (009_passkey_not_unique_by_itself.sql).
        await using var command = dataSource.CreateCommand("""
            with previous as (select passkey_digest from users where id = $1)
            insert into users as u (id, passkey, upload_multiplier, download_multiplier, can_leech)
            select $1, $2, $3, $4, $5 where not exists (select from users where passkey_digest = sha256($2::bytea) and id <> $1)
            on conflict (id) do update set passkey = excluded.passkey, upload_multiplier = excluded.upload_multiplier,
                download_multiplier = excluded.download_multiplier, can_leech = excluded.can_leech
            returning (select passkey_digest from previous where passkey_digest <> u.passkey_digest)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = profile.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = passkey.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Upload });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Download });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.CanLeech });
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw SiteConflictException.PasskeyOfAnotherUser(profile.UserId);
            }

            return reader.IsDBNull(0) ? null : UserKey.Read(reader.GetFieldValue<byte[]>(0));
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Not chained: the answer crosses to the gateway, and PostgreSQL's exception is no type it needs to read.
            throw SiteConflictException.PasskeyOfAnotherUser(profile.UserId, exception.ConstraintName);
        }
    }

    public async ValueTask<bool> RemoveUserAsync(Passkey passkey, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("delete from users where passkey_digest = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = passkey.ToUserKey().ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async ValueTask<InfoHash?> PutTorrentAsync(InfoHash infoHash, TorrentProfile profile, CancellationToken cancellationToken = default)
    {
        // A new info hash for a known id (a re-upload keeping its page) moves the row: report the old hash.
        await using var command = dataSource.CreateCommand("""
            with previous as (select info_hash from torrents where id = $1)
            insert into torrents (id, info_hash, status, deleted_reason, upload_multiplier, download_multiplier)
            values ($1, $2, $3, $4, $5, $6)
            on conflict (id) do update set info_hash = excluded.info_hash, status = excluded.status,
                deleted_reason = excluded.deleted_reason, upload_multiplier = excluded.upload_multiplier,
                download_multiplier = excluded.download_multiplier
            returning (select info_hash from previous where info_hash <> $2)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = profile.TorrentId });
        command.Parameters.Add(new NpgsqlParameter { Value = infoHash.Value.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Status == TorrentStatus.Deleted ? "deleted" : "active" });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)profile.DeletedReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Upload });
        command.Parameters.Add(new NpgsqlParameter { Value = profile.Multipliers.Download });
        try
        {
            return await command.ExecuteScalarAsync(cancellationToken) is byte[] replaced ? InfoHash.Read(replaced) : null;
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw SiteConflictException.InfoHashOfAnotherTorrent(profile.TorrentId, exception.ConstraintName);
        }
    }

    public async ValueTask<bool> RemoveTorrentAsync(InfoHash infoHash, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("delete from torrents where info_hash = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = infoHash.Value.ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async ValueTask<IReadOnlyList<SilentSwarm>> FindSwarmsWithSilentPeersAsync(DateTimeOffset silentBefore, CancellationToken cancellationToken = default)
    {
        // One whole-table read of the peers and of the departures (no index on last_announce_at: every flush changes
        // it, and an index on it would end the peers' in-place updates), a few times an hour per silo. Not paged: each
        // page would read the tables again.
        await using var command = dataSource.CreateCommand("""
            select silent.torrent_id, t.info_hash
            from (
                select torrent_id from tracker_peers where last_announce_at < $1
                union
                select torrent_id from tracker_departed_peers where departed_at < $1
            ) silent
            left join torrents t on t.id = silent.torrent_id
            order by silent.torrent_id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = silentBefore.UtcDateTime });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var swarms = new List<SilentSwarm>();
        while (await reader.ReadAsync(cancellationToken))
        {
            swarms.Add(new SilentSwarm(reader.GetInt64(0), reader.IsDBNull(1) ? null : InfoHash.Read(reader.GetFieldValue<byte[]>(1))));
        }

        return swarms;
    }

    public async ValueTask<int> DeleteSilentPeersOfRemovedTorrentsAsync(IReadOnlyList<long> torrentIds, DateTimeOffset silentBefore, CancellationToken cancellationToken = default)
    {
        // The torrent's absence is checked in the statements themselves, so a torrent the site registers again meanwhile keeps its rows.
        await using var batch = dataSource.CreateBatch();
        var peers = new NpgsqlBatchCommand("""
            delete from tracker_peers p
            where p.torrent_id = any($1) and p.last_announce_at < $2 and not exists (select from torrents t where t.id = p.torrent_id)
            """);
        var departures = new NpgsqlBatchCommand("""
            delete from tracker_departed_peers d
            where d.torrent_id = any($1) and d.departed_at < $2 and not exists (select from torrents t where t.id = d.torrent_id)
            """);
        foreach (var statement in (NpgsqlBatchCommand[])[peers, departures])
        {
            statement.Parameters.Add(new NpgsqlParameter { Value = torrentIds.ToArray() });
            statement.Parameters.Add(new NpgsqlParameter { Value = silentBefore.UtcDateTime });
            batch.BatchCommands.Add(statement);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        return peers.RecordsAffected;
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

    private static void AddTrafficColumns<T>(NpgsqlParameterCollection parameters, IReadOnlyList<T> rows, Func<T, long> id, Func<T, Traffic> traffic)
    {
        AddColumn(parameters, rows, id);
        AddColumn(parameters, rows, row => traffic(row).RawUploaded);
        AddColumn(parameters, rows, row => traffic(row).RawDownloaded);
        AddColumn(parameters, rows, row => traffic(row).CreditedUploaded);
        AddColumn(parameters, rows, row => traffic(row).CreditedDownloaded);
    }

    private static readonly Func<SwarmFlush, IReadOnlyList<StoredPeer>> Present = static f => f.Peers.Present;
    private static readonly Func<SwarmFlush, IReadOnlyList<DepartedPeer>> Departed = static f => f.Peers.Departed;
    private static readonly Func<SwarmFlush, IReadOnlyList<PeerKey>> Forgotten = static f => f.Peers.Forgotten;
    private static readonly Func<SwarmFlush, IReadOnlyList<HistoryRow>> History = static f => f.History;

    /// <summary>
    /// Each user's traffic from every swarm in the write as one row, in user id order (the order users are locked in):
    /// the sum of the user's history rows. Users whose rows carry no traffic are left out, so they are not locked.
    /// </summary>
    private static UserUsage[] TrafficPerUser(List<SwarmFlush> flushes)
    {
        var rows = 0;
        foreach (var flush in flushes)
        {
            rows += flush.History.Count;
        }

        // Sized once: a user has rows in few of the write's swarms.
        var perUser = new Dictionary<long, Traffic>(rows);
        foreach (var flush in flushes)
        {
            for (var i = 0; i < flush.History.Count; i++)
            {
                var (userId, added) = flush.History[i];
                if (!added.Traffic.IsZero)
                {
                    ref var traffic = ref CollectionsMarshal.GetValueRefOrAddDefault(perUser, userId, out _);
                    traffic += added.Traffic;
                }
            }
        }

        var users = new UserUsage[perUser.Count];
        var at = 0;
        foreach (var (userId, traffic) in perUser)
        {
            users[at++] = new UserUsage(userId, traffic);
        }

        Array.Sort(users, static (a, b) => a.UserId.CompareTo(b.UserId));
        return users;
    }

    /// <summary>A value of each flush, in the write's order of flushes.</summary>
    private static T[] PerFlush<T>(List<SwarmFlush> flushes, Func<SwarmFlush, T> value)
    {
        var values = new T[flushes.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = value(flushes[i]);
        }

        return values;
    }

    /// <summary>One parameter: a column of the rows <paramref name="rowsOf"/> gives each flush, flush by flush.</summary>
    private static void AddColumn<TRow, TValue>(
        NpgsqlParameterCollection parameters, List<SwarmFlush> flushes, Func<SwarmFlush, IReadOnlyList<TRow>> rowsOf, Func<long, TRow, TValue> column) =>
        parameters.Add(new NpgsqlParameter { Value = Column(flushes, rowsOf, column) });

    private static TValue[] Column<TRow, TValue>(List<SwarmFlush> flushes, Func<SwarmFlush, IReadOnlyList<TRow>> rowsOf, Func<long, TRow, TValue> column)
    {
        var count = 0;
        foreach (var flush in flushes)
        {
            count += rowsOf(flush).Count;
        }

        var values = new TValue[count];
        var at = 0;
        foreach (var flush in flushes)
        {
            var rows = rowsOf(flush);
            for (var i = 0; i < rows.Count; i++)
            {
                values[at++] = column(flush.TorrentId, rows[i]);
            }
        }

        return values;
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

    private static partial class Log
    {
        // Warning: the site deleted them while the tracker held their unwritten traffic. Their history rows
        // (user_torrents) have it; no row is made again for them.
        [LoggerMessage(1, LogLevel.Warning, "A statistics write credited {Users} users and {Torrents} torrents the site no longer has rows for: their traffic went to their history rows (user_torrents) only")]
        public static partial void CreditForRowsGone(ILogger logger, int users, int torrents);
    }
}
