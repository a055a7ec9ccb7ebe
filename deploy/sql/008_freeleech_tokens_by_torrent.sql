-- Loading a torrent reads its unexpired freeleech tokens. The primary key leads with the user, so without this index
-- that read went through every token of the site, once per torrent a silo loads (a silo starting with 100,000
-- swarms loads 100,000 torrents). Ordered by expiry within a torrent, so expired tokens are skipped in the index.
create index freeleech_tokens_by_torrent on freeleech_tokens (torrent_id, expires_at);
