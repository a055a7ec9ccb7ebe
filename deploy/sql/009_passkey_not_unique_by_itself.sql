-- A unique violation's detail quotes the duplicate key, and PostgreSQL writes that detail to its own log: a passkey
-- given to two users (two admin requests racing, or a site job) put the passkey in the server's log. Its digest stays
-- unique, so two users still cannot share a passkey, and a violation now quotes only the digest (which change
-- notices carry anyway). The passkey keeps a plain index for the site's own lookups by passkey. The key is dropped
-- first: its lock, the strongest, is then taken before any other, so the tracker's writes to users (which hold a
-- weaker lock while they wait for rows) cannot deadlock with this migration; reads of users wait for the index.
alter table users drop constraint if exists users_passkey_key;
create index if not exists users_passkey on users (passkey);
