-- The site's side of the tracker: users, torrents, which clients may connect, freeleech grants, and the
-- statistics the tracker writes back. The site owns the profile columns; the tracker writes only the
-- statistics columns and the tables it owns (user_torrents, tracker_applied_batches).

create table users (
    id                   bigint primary key,
    passkey              text not null unique check (passkey ~ '^[A-Za-z0-9]{8,64}$'),
    -- The tracker looks users up by this digest and never needs the passkey itself. (text::bytea is the
    -- passkey's own bytes: the check above rules out the backslash that bytea input would interpret.)
    passkey_digest       bytea generated always as (sha256(passkey::bytea)) stored unique,
    upload_multiplier    numeric(12, 4) not null default 1 check (upload_multiplier between 0 and 100),
    download_multiplier  numeric(12, 4) not null default 1 check (download_multiplier between 0 and 100),
    can_leech            boolean not null default true,
    -- Personal freeleech: downloads are not credited while now() < freeleech_until.
    freeleech_until      timestamptz,
    raw_uploaded         bigint not null default 0,
    raw_downloaded       bigint not null default 0,
    credited_uploaded    bigint not null default 0,
    credited_downloaded  bigint not null default 0
);

create table torrents (
    id                   bigint primary key,
    info_hash            bytea not null unique check (octet_length(info_hash) = 20),
    status               text not null default 'active' check (status in ('active', 'deleted')),
    deleted_reason       text check (octet_length(deleted_reason) <= 512),
    upload_multiplier    numeric(12, 4) not null default 1 check (upload_multiplier between 0 and 100),
    download_multiplier  numeric(12, 4) not null default 1 check (download_multiplier between 0 and 100),
    snatches             bigint not null default 0,
    seeders              integer not null default 0,
    leechers             integer not null default 0,
    raw_uploaded         bigint not null default 0,
    raw_downloaded       bigint not null default 0,
    credited_uploaded    bigint not null default 0,
    credited_downloaded  bigint not null default 0
);

-- Clients allowed to announce, by peer_id prefix (e.g. '-qB4' or 'A2-1-36'). An empty table allows every client.
create table allowed_clients (
    peer_id_prefix  bytea primary key check (octet_length(peer_id_prefix) between 1 and 20),
    description     text not null default ''
);

-- A freeleech token: one user downloads one torrent without download credit until expires_at.
create table freeleech_tokens (
    user_id     bigint not null references users (id) on delete cascade,
    torrent_id  bigint not null references torrents (id) on delete cascade,
    expires_at  timestamptz not null,
    primary key (user_id, torrent_id)
);

-- A user's history on one torrent, as a site's history page shows it. No foreign keys: statistics of a
-- user or torrent deleted meanwhile still land, and the history outlives the profile.
create table user_torrents (
    user_id              bigint not null,
    torrent_id           bigint not null,
    raw_uploaded         bigint not null default 0,
    raw_downloaded       bigint not null default 0,
    credited_uploaded    bigint not null default 0,
    credited_downloaded  bigint not null default 0,
    seeding_seconds      bigint not null default 0,
    completed_at         timestamptz,
    last_announce_at     timestamptz,
    primary key (user_id, torrent_id)
);

-- Exactly-once write-back: each batch of statistics is named (source, sequence); a batch whose sequence is
-- not above the source's last one was applied before and is skipped.
create table tracker_applied_batches (
    source      text primary key,
    sequence    bigint not null,
    applied_at  timestamptz not null default now()
);
