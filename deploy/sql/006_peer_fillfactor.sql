-- Room on each page of tracker_peers for the next version of its rows. A swarm's flush rewrites the row of every
-- peer that announced; with the page full, the new version goes to another page and both indexes get a new entry.
-- With room left, PostgreSQL updates the row on its own page without touching the indexes (a HOT update), since a
-- flush never changes the indexed columns (torrent, user, peer id). Applies to pages written from now on; rows
-- move into the roomier pages as they are rewritten.
alter table tracker_peers set (fillfactor = 70);
