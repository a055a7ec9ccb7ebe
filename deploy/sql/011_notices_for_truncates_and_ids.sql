-- Site changes that 003's row triggers do not see. A TRUNCATE fires no row trigger: a site ending a freeleech event
-- by emptying freeleech_tokens (or emptying torrents or users) now tells every silo to re-read every torrent, or
-- every user, it holds ('torrents', 'users'). And the tracker caches and credits users and torrents by id, so a
-- change of a row's id notifies as a change of its other columns does.

-- The trigger's argument is the notice: 'torrents' or 'users'.
create function notify_all_of_a_kind_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('chihaya_site_changes', tg_argv[0]);
    return null;
end;
$$;

create trigger freeleech_tokens_truncated after truncate on freeleech_tokens
    for each statement execute function notify_all_of_a_kind_change('torrents');
create trigger torrents_truncated after truncate on torrents
    for each statement execute function notify_all_of_a_kind_change('torrents');
create trigger users_truncated after truncate on users
    for each statement execute function notify_all_of_a_kind_change('users');

drop trigger users_profile_changed on users;
create trigger users_profile_changed after update on users
    for each row
    when ((old.id, old.passkey, old.upload_multiplier, old.download_multiplier, old.can_leech, old.freeleech_until)
          is distinct from (new.id, new.passkey, new.upload_multiplier, new.download_multiplier, new.can_leech, new.freeleech_until))
    execute function notify_user_change();

drop trigger torrents_profile_changed on torrents;
create trigger torrents_profile_changed after update on torrents
    for each row
    when ((old.id, old.info_hash, old.status, old.deleted_reason, old.upload_multiplier, old.download_multiplier)
          is distinct from (new.id, new.info_hash, new.status, new.deleted_reason, new.upload_multiplier, new.download_multiplier))
    execute function notify_torrent_change();
