-- Batch sources that can never send again. A swarm's source lives as long as its stored state; once the swarm
-- clears that state (no peers, nothing unconfirmed) it retires the source and starts a new one next time. The
-- row must still outlive any send of that source that may be on its way (a statement held up in the network,
-- a second activation of the same grain while membership changes), so it is deleted only after it has been
-- retired for longer than any of those can last. Live sources are never retired, so their resends keep being
-- dropped.
alter table tracker_applied_batches add column retired_at timestamptz;

create index tracker_applied_batches_retired on tracker_applied_batches (retired_at) where retired_at is not null;
