-- Room on each page of user_torrents for the next version of its rows, as 006 gives tracker_peers. Every flush
-- adds a peer's traffic to its user's history row; on a full page the new version moves to another page and the
-- primary key gets a new entry. With room left the update stays on the page and leaves the index alone (a HOT
-- update): under the bench load a fifth of the history updates were not HOT before this. Applies to pages
-- written from now on: rows move into roomier pages as they are rewritten (VACUUM FULL or pg_repack applies it at
-- once). New pages are kept a fifth empty, so the table grows up to a quarter larger for the same rows.
alter table user_torrents set (fillfactor = 80);
