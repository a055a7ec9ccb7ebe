-- Which info hash a swarm's claim (and so its stored peers) belongs to. A swarm is claimed by torrent id, so when the
-- site re-keys a torrent, the rows of the id are not necessarily the swarm's:
-- * a torrent id given another info hash: the new hash's claim finds the id's claim of the old hash (rekeyed_from)
--   and parks those rows under a claim of their own (a negative id, keeping the old hash) instead of serving the old
--   torrent's peers as the new one's;
-- * an info hash moved to a new torrent id: its next claim finds the older claim of the same hash (under the old id,
--   or parked) and takes that swarm's peers over, so each peer's next announce credits the traffic since its last one.
-- Null for claims taken before this migration: nothing is assumed about them. (Adding nullable columns only changes
-- the table's description; the index is small, a row per torrent ever claimed.)
alter table tracker_swarms add column info_hash bytea, add column rekeyed_from bytea;
create index tracker_swarms_info_hash on tracker_swarms (info_hash);
