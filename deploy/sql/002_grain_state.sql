-- Grain state for Orleans' ADO.NET storage provider (Microsoft.Orleans.Persistence.AdoNet), written from the
-- provider's contract: it reads its four queries from orleansquery by key, passes typed parameters
-- (@ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, @GrainIdExtensionString, @GrainStateVersion,
-- @PayloadBinary, …) and expects a version back. Versions give optimistic concurrency: a write that
-- names a stale version changes nothing and returns no row.

create table grain_state (
    service_id       text not null,
    grain_type       text not null,
    grain_id_n0      bigint not null,
    grain_id_n1      bigint not null,
    -- String keys live here; NULL when Orleans stored the key in n0/n1 (a Guid- or number-shaped string).
    grain_id_ext     text,
    payload          bytea,
    version          integer not null,
    modified_at      timestamptz not null default now()
);

create unique index grain_state_key on grain_state
    (service_id, grain_type, grain_id_n0, grain_id_n1, (coalesce(grain_id_ext, '')));

create table orleansquery (
    querykey   text primary key,
    querytext  text not null
);

insert into orleansquery (querykey, querytext) values
('ReadFromStorageKey', $sql$
    select payload as "PayloadBinary", version as "Version"
    from grain_state
    where service_id = @ServiceId and grain_type = @GrainTypeString
      and grain_id_n0 = @GrainIdN0 and grain_id_n1 = @GrainIdN1
      and coalesce(grain_id_ext, '') = coalesce(@GrainIdExtensionString, '')
$sql$),
('WriteToStorageKey', $sql$
    with updated as (
        update grain_state
        set payload = @PayloadBinary, version = version + 1, modified_at = now()
        where @GrainStateVersion is not null
          and service_id = @ServiceId and grain_type = @GrainTypeString
          and grain_id_n0 = @GrainIdN0 and grain_id_n1 = @GrainIdN1
          and coalesce(grain_id_ext, '') = coalesce(@GrainIdExtensionString, '')
          and version = @GrainStateVersion
        returning version
    ), inserted as (
        insert into grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, payload, version)
        select @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, @GrainIdExtensionString, @PayloadBinary, 1
        where @GrainStateVersion is null
        on conflict (service_id, grain_type, grain_id_n0, grain_id_n1, (coalesce(grain_id_ext, ''))) do nothing
        returning version
    )
    select version as "NewGrainStateVersion" from updated
    union all
    select version from inserted
$sql$),
('ClearStorageKey', $sql$
    with updated as (
        update grain_state
        set payload = null, version = version + 1, modified_at = now()
        where @GrainStateVersion is not null
          and service_id = @ServiceId and grain_type = @GrainTypeString
          and grain_id_n0 = @GrainIdN0 and grain_id_n1 = @GrainIdN1
          and coalesce(grain_id_ext, '') = coalesce(@GrainIdExtensionString, '')
          and version = @GrainStateVersion
        returning version
    ), inserted as (
        insert into grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, payload, version)
        select @ServiceId, @GrainTypeString, @GrainIdN0, @GrainIdN1, @GrainIdExtensionString, null, 1
        where @GrainStateVersion is null
        on conflict (service_id, grain_type, grain_id_n0, grain_id_n1, (coalesce(grain_id_ext, ''))) do nothing
        returning version
    )
    select version from updated
    union all
    select version from inserted
$sql$),
('DeleteStorageKey', $sql$
    with deleted as (
        delete from grain_state
        where service_id = @ServiceId and grain_type = @GrainTypeString
          and grain_id_n0 = @GrainIdN0 and grain_id_n1 = @GrainIdN1
          and coalesce(grain_id_ext, '') = coalesce(@GrainIdExtensionString, '')
          and (@GrainStateVersion is null or version = @GrainStateVersion)
        returning version
    )
    select coalesce(max(version), 0) + 1 from deleted having count(*) > 0 or @GrainStateVersion is null
$sql$);
