-- Swarms write their peers and the statistics credited from them together: each flush is one transaction that
-- stores the peers whose totals moved and adds exactly the traffic those moves credited. A peer's stored totals
-- are therefore always the baseline its credited traffic ends at, and a swarm restored from these rows credits a
-- peer's next announce from exactly there: never twice, and what a lost activation forgot is credited again.

-- Which activation may write a swarm. Each activation claims its swarm with a new epoch from the sequence (never
-- reused, even for a row deleted and made again); a flush names its epoch and is refused once a newer claim exists,
-- so a stale or duplicate activation writes nothing. flushed_sequence counts the claim's applied flushes, so a
-- flush resent after a lost answer is recognised and applied once.
create sequence tracker_swarm_epochs;

create table tracker_swarms (
    torrent_id        bigint primary key,
    epoch             bigint not null,
    flushed_sequence  bigint not null default 0,
    claimed_at        timestamptz not null default now()
);

-- The tracker's peers, one row per peer of a swarm, as of the swarm's last flush (seconds behind the live swarm).
-- The site's jobs may read it (active peers, who seeds what); only the tracker writes it. uploaded and downloaded
-- are the totals the client last reported, not credit.
create table tracker_peers (
    torrent_id        bigint not null,
    user_id           bigint not null,
    peer_id           bytea not null check (octet_length(peer_id) = 20),
    ip                inet not null,
    port              integer not null check (port between 0 and 65535),
    uploaded          bigint not null,
    downloaded        bigint not null,
    seeder            boolean not null,
    snatched          boolean not null,
    last_announce_at  timestamptz not null,
    -- When a gateway received the peer's last applied announce (its clock, to the microsecond): a swarm applies a
    -- peer's announces in this order only, so a late try of an old one cannot take the totals back.
    received_at       timestamptz not null,
    primary key (torrent_id, user_id, peer_id)
);

create index tracker_peers_user on tracker_peers (user_id);

-- Peers that stopped in the last few minutes, with when the gateway received their goodbye: a late try of one of
-- their earlier announces (held up while a silo was cut off) must not bring them back with old totals.
create table tracker_departed_peers (
    torrent_id   bigint not null,
    user_id      bigint not null,
    peer_id      bytea not null,
    received_at  timestamptz not null,
    departed_at  timestamptz not null,
    primary key (torrent_id, user_id, peer_id)
);

-- Replaced by the above: statistics no longer travel through grain state or numbered batches. Stop a cluster of an
-- earlier version gracefully before upgrading, so its grains hand on what they hold.
drop table tracker_applied_batches;
drop table grain_state;
drop table orleansquery;
