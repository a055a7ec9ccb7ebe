-- When the activation holding a swarm's claim gave it up cleanly: its deactivation's last flush wrote everything it had
-- accepted and marks the claim released. The next claim reads it, so it can tell a clean hand-over (the stored peers
-- are exactly as the swarm left them, and the time since is time the swarm was away) from a crash (an activation may
-- have accepted announces that were never written, so the stored peers may be older than they were). Cleared by every
-- claim and every other flush.
alter table tracker_swarms add column released_at timestamptz;
