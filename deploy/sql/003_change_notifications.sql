-- The site changes users, torrents, freeleech tokens and allowed clients; the tracker caches them. These
-- triggers tell every silo at once (NOTIFY on channel chihaya_site_changes), so a cached grain reloads within
-- moments. Payloads name what changed, never a passkey: 'user:<sha-256 of the passkey, hex>',
-- 'torrent:<info hash, hex>', 'clients'. Statistics columns, which the tracker itself writes, notify nothing.

create function notify_user_change() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform pg_notify('chihaya_site_changes', 'user:' || encode(old.passkey_digest, 'hex'));
    end if;
    if tg_op in ('INSERT', 'UPDATE') and (tg_op = 'INSERT' or new.passkey_digest <> old.passkey_digest) then
        perform pg_notify('chihaya_site_changes', 'user:' || encode(new.passkey_digest, 'hex'));
    end if;
    return null;
end;
$$;

create trigger users_changed after insert or delete on users
    for each row execute function notify_user_change();
create trigger users_profile_changed after update on users
    for each row
    when ((old.passkey, old.upload_multiplier, old.download_multiplier, old.can_leech, old.freeleech_until)
          is distinct from (new.passkey, new.upload_multiplier, new.download_multiplier, new.can_leech, new.freeleech_until))
    execute function notify_user_change();

create function notify_torrent_change() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform pg_notify('chihaya_site_changes', 'torrent:' || encode(old.info_hash, 'hex'));
    end if;
    if tg_op = 'INSERT' or (tg_op = 'UPDATE' and new.info_hash <> old.info_hash) then
        perform pg_notify('chihaya_site_changes', 'torrent:' || encode(new.info_hash, 'hex'));
    end if;
    return null;
end;
$$;

create trigger torrents_changed after insert or delete on torrents
    for each row execute function notify_torrent_change();
create trigger torrents_profile_changed after update on torrents
    for each row
    when ((old.info_hash, old.status, old.deleted_reason, old.upload_multiplier, old.download_multiplier)
          is distinct from (new.info_hash, new.status, new.deleted_reason, new.upload_multiplier, new.download_multiplier))
    execute function notify_torrent_change();

create function notify_freeleech_token_change() returns trigger language plpgsql as $$
begin
    -- Both torrents when an update moves a token from one torrent to another.
    perform pg_notify('chihaya_site_changes', 'torrent:' || encode(t.info_hash, 'hex'))
    from torrents t
    where (tg_op <> 'INSERT' and t.id = old.torrent_id) or (tg_op <> 'DELETE' and t.id = new.torrent_id);
    return null;
end;
$$;

create trigger freeleech_tokens_changed after insert or update or delete on freeleech_tokens
    for each row execute function notify_freeleech_token_change();

create function notify_clients_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('chihaya_site_changes', 'clients');
    return null;
end;
$$;

create trigger allowed_clients_changed after insert or update or delete or truncate on allowed_clients
    for each statement execute function notify_clients_change();
