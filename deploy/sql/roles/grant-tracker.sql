-- The rights of the tracker's own database role, for sites that run the migrations as another role (the schema's
-- owner: the Kubernetes migration Job, `Chihaya.Orleans.Silo.dll migrate`) and the silos as a role that may not change
-- the schema. Run it once, as that owner (default privileges are those of the role that sets them: run by another
-- role, they would not cover the tables later migrations create), in the site's database:
--
--   psql "host=db dbname=site user=site_owner" -v tracker_role=tracker -f deploy/sql/roles/grant-tracker.sql
--
-- The tracker reads and writes rows of every table the migrations create (the admin API registers users and torrents;
-- flushes credit statistics and store peers), and takes swarm epochs from a sequence. Default privileges give the same
-- rights on tables and sequences later migrations create, so a release's migration needs no new grant.
grant usage on schema public to :"tracker_role";
grant select, insert, update, delete on all tables in schema public to :"tracker_role";
grant usage, select on all sequences in schema public to :"tracker_role";
alter default privileges in schema public grant select, insert, update, delete on tables to :"tracker_role";
alter default privileges in schema public grant usage, select on sequences to :"tracker_role";
