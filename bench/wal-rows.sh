#!/usr/bin/env bash
# bench/wal-rows.sh: what PostgreSQL writes to its WAL for each kind of row a flush changes, on the tracker's own
# schema (deploy/sql, applied in order) and with no tracker running: the floor under the production shape's "WAL per
# changed peer", measured in bytes, which no CPU noise on the machine moves.
#
#   bench/wal-rows.sh                                   # 10,000 torrents x 25 peers; writes of 500 swarms x 10 peers
#   BENCH_WRITE_PEERS=1 bench/wal-rows.sh               # each swarm with one changed peer a write (clients at 30 min)
#
# It fills the tables as bench/run.sh's fill leaves them (users, torrents, swarm claims, a peer row and a history row
# per peer), then replays writes shaped like a silo's flush: per write, BENCH_WRITE_SWARMS swarms with
# BENCH_WRITE_PEERS changed peers each, one transaction that advances the swarms' claims (the update that checks and
# locks them), updates the changed peers' rows and their history rows in place by key, then locks and adds to the
# users' and torrents' totals (the statements' shapes of Grains/Site/PostgresSiteStore.cs, not its code). Every peer changes once a round.
# Five variants tell the rows apart: both rows (what the tracker writes), the peer row alone, the history row alone,
# neither (claims, users, torrents), and neither without the statement that locks the torrents before their update
# (what that lock costs). Three more weigh writes the tracker does not make (a team decision, see bench/README): the
# changed peers packed 76 bytes each (as a swarm holds them) into rows appended to a log in place of their peer rows,
# a row per swarm (with and without the history rows) or one row per write (and nothing else: its floor). Each variant runs a round to settle its pages, then one round right after a
# CHECKPOINT (every page's first change after a checkpoint is logged whole, a full-page image) and one more (none).
set -euo pipefail

TORRENTS=${BENCH_TORRENTS:-10000}          # torrents, one swarm each
PEERS=${BENCH_PEERS:-25}                   # peers per torrent
PASSKEYS=${BENCH_PASSKEYS:-1000}           # users
WRITE_SWARMS=${BENCH_WRITE_SWARMS:-500}    # swarms per write (a silo writes up to 512 swarms' flushes at once)
WRITE_PEERS=${BENCH_WRITE_PEERS:-10}       # changed peers per swarm per write
KEEP=${BENCH_KEEP:-0}                      # 1: keep the work folder

source "$(dirname "$0")/lib.sh"
(($# == 0)) || die "usage: bench/wal-rows.sh (settings in the environment: BENCH_TORRENTS, BENCH_PEERS, BENCH_PASSKEYS, BENCH_WRITE_SWARMS, BENCH_WRITE_PEERS, BENCH_KEEP)"
need_count "BENCH_TORRENTS=$TORRENTS" "BENCH_PEERS=$PEERS" "BENCH_PASSKEYS=$PASSKEYS" \
  "BENCH_WRITE_SWARMS=$WRITE_SWARMS" "BENCH_WRITE_PEERS=$WRITE_PEERS"
need_flag "BENCH_KEEP=$KEEP"
((WRITE_PEERS <= PEERS)) || die "bad setting BENCH_WRITE_PEERS=$WRITE_PEERS: at most BENCH_PEERS ($PEERS)"
((WRITE_SWARMS <= TORRENTS)) || die "bad setting BENCH_WRITE_SWARMS=$WRITE_SWARMS: at most BENCH_TORRENTS ($TORRENTS)"
bench_start wal-rows
start_services "$work/services"

db() {  # db SQL...: each argument a statement, in the bench's own database, one value a line
  local args=() s
  for s; do args+=(-c "$s"); done
  PGPASSWORD=$(sed -nE 's/.*Password=([^;]*).*/\1/p' <<< "$CHIHAYA_TEST_POSTGRES") \
    psql -h 127.0.0.1 -p "$CHIHAYA_PG_PORT" -U postgres -d walrows -v ON_ERROR_STOP=1 -XAtq "${args[@]}"
}
# Checkpoints only where the script asks for one: a checkpoint PostgreSQL starts by itself (every 5 minutes, or once
# 1 GB of WAL is written) would put full-page images into a steady round. This PostgreSQL is the script's own.
pg_sql "alter system set max_wal_size = '20GB'" > /dev/null
pg_sql "alter system set checkpoint_timeout = '1h'" > /dev/null
pg_sql "select pg_reload_conf()" > /dev/null
pg_sql "create database walrows" > /dev/null
for migration in "$repo"/deploy/sql/[0-9]*.sql; do
  db "$(cat "$migration")" > /dev/null || die "migration $(basename "$migration") failed"
done

log "filling: $PASSKEYS users, $TORRENTS torrents x $PEERS peers (a peer row and a history row each)"
db "insert into users (id, passkey, upload_multiplier, download_multiplier, can_leech)
      select i, 'passkey' || lpad(i::text, 12, '0'), 1, 1, true from generate_series(1, $PASSKEYS) i" \
   "insert into torrents (id, info_hash, upload_multiplier, download_multiplier, status)
      select i, substring(sha256(('torrent' || i)::bytea) from 1 for 20), 1, 1, 'active' from generate_series(1, $TORRENTS) i" \
   "insert into tracker_swarms (torrent_id, epoch) select i, 1 from generate_series(1, $TORRENTS) i" \
   "insert into tracker_peers (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched,
        last_announce_at, received_at)
      select t, (t * $PEERS + i) % $PASSKEYS + 1, substring(sha256(('peer' || t || '-' || i)::bytea) from 1 for 20),
        '127.0.0.1', 1025 + i, 0, 0, i % 2 = 0, false, now(), now()
      from generate_series(1, $TORRENTS) t, generate_series(0, $PEERS - 1) i" \
   "insert into user_torrents (user_id, torrent_id, last_announce_at) select user_id, torrent_id, now() from tracker_peers
      on conflict do nothing" > /dev/null
# The order peers change in: WRITE_PEERS of a swarm at a time, the swarms in a random order, so that consecutive
# WRITE_SWARMS x WRITE_PEERS rows are one write's. Unlogged: the replay's reads of it write no WAL.
db "create unlogged table replay_order as
      with swarm as (select torrent_id, random() as turn from tracker_swarms),
           peer as (select torrent_id, user_id, peer_id,
                      row_number() over (partition by torrent_id order by port) - 1 as nth from tracker_peers)
      select row_number() over (order by peer.nth / $WRITE_PEERS, swarm.turn, peer.nth) as position,
             peer.torrent_id, peer.user_id, peer.peer_id
      from peer join swarm using (torrent_id)" \
   "create unique index on replay_order (position)" \
   "create table swarm_change_log (torrent_id bigint not null, sequence bigint not null, peers bytea not null,
      primary key (torrent_id, sequence))" \
   "create table write_change_log (write_id bigserial primary key, peers bytea not null)" \
   "vacuum analyze" > /dev/null

# replay_round(peer rows?, history rows?, torrent locks?, packed log: none, swarm or write): every peer changes once,
# a write of WRITE_SWARMS x WRITE_PEERS at a time; without the torrents' lock statement, their update locks those rows
# itself; the packed log appends a row per swarm holding its changed peers, or one row per write holding them all and
# the write does nothing else (random bytes, so compression gains nothing, as with real peer ids and totals)
db "create procedure replay_round(peer_rows boolean, history_rows boolean, torrent_locks boolean, packed_log text)
    language plpgsql as \$\$
    declare
      write_size int := $WRITE_SWARMS * $WRITE_PEERS;
      writes int := (select (count(*) + write_size - 1) / write_size from replay_order);
      torrent_ids bigint[]; user_ids bigint[]; peer_ids bytea[]; swarms bigint[]; users_credited bigint[];
    begin
      for w in 0 .. writes - 1 loop
        select array_agg(torrent_id), array_agg(user_id), array_agg(peer_id) into torrent_ids, user_ids, peer_ids
          from replay_order where position > w * write_size and position <= (w + 1) * write_size;
        select array_agg(distinct id order by id) into swarms from unnest(torrent_ids) id;
        select array_agg(distinct id order by id) into users_credited from unnest(user_ids) id;
        if packed_log = 'write' then
          insert into write_change_log (peers)
            select substring(string_agg(uuid_send(gen_random_uuid()), ''::bytea) from 1 for 76 * write_size)
              from generate_series(1, (76 * write_size + 15) / 16);
          commit;
          continue;
        end if;
        update tracker_swarms s set flushed_sequence = s.flushed_sequence + 1 where s.torrent_id = any(swarms) and s.epoch = 1;
        if peer_rows then
          update tracker_peers p set ip = p.ip, port = p.port, uploaded = p.uploaded + 16384,
              downloaded = p.downloaded + 16384, seeder = p.seeder, snatched = p.snatched, last_announce_at = now(),
              received_at = clock_timestamp()
            from unnest(torrent_ids, user_ids, peer_ids) v(torrent_id, user_id, peer_id)
            where p.torrent_id = v.torrent_id and p.user_id = v.user_id and p.peer_id = v.peer_id;
        end if;
        if packed_log = 'swarm' then
          insert into swarm_change_log (torrent_id, sequence, peers)
            select id, coalesce((select max(l.sequence) from swarm_change_log l where l.torrent_id = id), 0) + 1,
                   (select substring(string_agg(uuid_send(gen_random_uuid()), ''::bytea) from 1 for 76 * $WRITE_PEERS)
                      from generate_series(1, (76 * $WRITE_PEERS + 15) / 16))
            from unnest(swarms) id;
        end if;
        if history_rows then
          update user_torrents h set raw_uploaded = h.raw_uploaded + 16384, raw_downloaded = h.raw_downloaded + 16384,
              credited_uploaded = h.credited_uploaded + 16384, credited_downloaded = h.credited_downloaded + 16384,
              seeding_seconds = h.seeding_seconds + 30, last_announce_at = now()
            from unnest(user_ids, torrent_ids) v(user_id, torrent_id)
            where h.user_id = v.user_id and h.torrent_id = v.torrent_id;
        end if;
        perform 1 from users where id = any(users_credited) order by id for no key update;
        if torrent_locks then
          perform 1 from torrents where id = any(swarms) order by id for no key update;
        end if;
        update users u set raw_uploaded = u.raw_uploaded + 16384, raw_downloaded = u.raw_downloaded + 16384,
            credited_uploaded = u.credited_uploaded + 16384, credited_downloaded = u.credited_downloaded + 16384
          where u.id = any(users_credited);
        update torrents t set raw_uploaded = t.raw_uploaded + 16384, raw_downloaded = t.raw_downloaded + 16384,
            credited_uploaded = t.credited_uploaded + 16384, credited_downloaded = t.credited_downloaded + 16384,
            seeders = t.seeders, leechers = t.leechers
          where t.id = any(swarms);
        commit;
      end loop;
    end \$\$" > /dev/null

peers_total=$((TORRENTS * PEERS))
# round LABEL PEER_ROWS HISTORY_ROWS TORRENT_LOCKS PACKED_LOG: one replay round; prints its WAL per changed peer and its
# full-page images
round() {
  local before after
  before=$(db "select pg_current_wal_lsn() || ' ' || wal_fpi from pg_stat_wal")
  db "call replay_round($2, $3, $4, '$5')" > /dev/null
  after=$(db "select pg_current_wal_lsn() || ' ' || wal_fpi from pg_stat_wal")
  db "select format('%-26s %-9s %-12s %-13s %-10s %10s %7s', '$1', '$2', '$3', '$4', '$5',
        round(pg_wal_lsn_diff('${after% *}', '${before% *}') / $peers_total.0), ${after#* } - ${before#* })"
}

log "replaying writes of $WRITE_SWARMS swarms x $WRITE_PEERS changed peers ($peers_total changed peers a round)"
printf '%-26s %-9s %-12s %-13s %-10s %10s %7s\n' round peer_rows history_rows torrent_locks packed_log wal_B/peer fpi
for variant in "true true true none" "true false true none" "false true true none" "false false true none" \
  "false false false none" "false true true swarm" "false false true swarm" "false false false write"; do
  read -r peer_rows history_rows torrent_locks packed_log <<< "$variant"
  # settles the pages (pruned, rows in place)
  db "call replay_round($peer_rows, $history_rows, $torrent_locks, '$packed_log')" > /dev/null
  db "checkpoint" > /dev/null
  round "right after a checkpoint" "$peer_rows" "$history_rows" "$torrent_locks" "$packed_log"
  round "steady (no checkpoint)" "$peer_rows" "$history_rows" "$torrent_locks" "$packed_log"
done
