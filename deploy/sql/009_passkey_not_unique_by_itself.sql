-- A unique violation's detail quotes the duplicate key, and PostgreSQL writes that detail to its own log: a passkey
-- given to two users (two admin requests racing, or a site job) put the passkey in the server's log. Its digest stays
-- unique, so two users still cannot share a passkey, and a violation now quotes only the digest (which change
-- notices carry anyway). The passkey keeps a plain index for the site's own lookups by passkey, built first: while it
-- builds, the table can still be read; the drop then holds its lock only until this migration commits.
create index if not exists users_passkey on users (passkey);
alter table users drop constraint if exists users_passkey_key;
