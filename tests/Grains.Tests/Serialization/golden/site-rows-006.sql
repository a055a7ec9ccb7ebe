-- The site's and the tracker's rows as schema version 6 (deploy/sql/001 to 006) stored them: a user, a torrent, a
-- freeleech token and an allowed client as the site writes them, and what the tracker wrote back (statistics, a
-- user's history on the torrent, the swarm's claim, an IPv4 and an IPv6 peer, a departed peer). StoredRowsTests loads
-- it into a database migrated to version 6, migrates that to the current version and reads it with the current code.
-- Never edit this file: a migration that changes how these rows are stored adds a fixture of its own version beside
-- it, describing the same data.
insert into users (id, passkey, upload_multiplier, download_multiplier, can_leech, freeleech_until,
                   raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded)
values (901, 'golden0123456789abcdef', 1.5, 0.25, false, '2026-12-01 09:30:15.123456+00', 1001, 1002, 1003, 1004);

insert into torrents (id, info_hash, status, deleted_reason, upload_multiplier, download_multiplier, snatches, seeders,
                      leechers, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded)
values (902, '\x4142434445464748494a4b4c4d4e4f5051525354', 'deleted', 'Trumped by a better release.', 2, 0.5, 77, 3, 4, 2001, 2002, 2003, 2004);

insert into freeleech_tokens (user_id, torrent_id, expires_at) values (901, 902, '2999-01-01 00:00:00+00');

insert into allowed_clients (peer_id_prefix, description) values ('\x2d7142342d', 'qBittorrent 4');

insert into user_torrents (user_id, torrent_id, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded,
                           seeding_seconds, completed_at, last_announce_at)
values (901, 902, 3001, 3002, 3003, 3004, 3600, '2026-11-27 08:00:00.5+00', '2026-11-28 09:30:15+00');

select setval('tracker_swarm_epochs', 5);
insert into tracker_swarms (torrent_id, epoch, flushed_sequence, claimed_at) values (902, 5, 12, '2026-11-28 09:00:00+00');

insert into tracker_peers (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded, seeder, snatched,
                           last_announce_at, received_at)
values (902, 901, '\x2122232425262728292a2b2c2d2e2f3031323334', '192.0.2.10', 6881, 100000, 200000, true, true,
        '2026-11-28 09:30:15+00', '2026-11-28 09:30:15.123456+00'),
       (902, 901, '\x6162636465666768696a6b6c6d6e6f7071727374', '2001:db8::42', 51413, 300000, 7, false, false,
        '2026-11-28 09:31:00+00', '2026-11-28 09:31:00.654321+00');

insert into tracker_departed_peers (torrent_id, user_id, peer_id, received_at, departed_at)
values (902, 901, '\x8182838485868788898a8b8c8d8e8f9091929394', '2026-11-28 09:20:00.000001+00', '2026-11-28 09:20:01+00');
