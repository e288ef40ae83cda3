-- Cron is fair across teams (shared/src/actions/cron.rs, shared/src/repo/servers.rs), and a
-- team's number of servers is bounded.

-- When cron last took the server for a health check (a sync counts as one) and for a catalogue
-- sync, whatever the outcome: each run takes every team's least recently taken servers first
-- (NULL, never taken, before any time), so a team's servers rotate over runs and none starves.
ALTER TABLE mcp_servers ADD COLUMN last_checked_at TEXT;
ALTER TABLE mcp_servers ADD COLUMN last_synced_at TEXT;

-- Each run's selection ranks every active server within its team by these columns
-- (ROW_NUMBER() OVER (PARTITION BY team_id ORDER BY …)): one scan of these small covering
-- indexes in partition order, no table read and no sort.
CREATE INDEX idx_mcp_servers_cron_check ON mcp_servers (team_id, last_checked_at, id) WHERE is_active = 1;
CREATE INDEX idx_mcp_servers_cron_sync ON mcp_servers (team_id, last_synced_at, id) WHERE is_active = 1;

-- Servers a team may have (active or not); NULL = the deployment default MAX_SERVERS_PER_TEAM
-- (admin and list_servers workers). create_server beyond it answers 409 conflict.
ALTER TABLE teams ADD COLUMN max_servers INTEGER CHECK (max_servers IS NULL OR max_servers >= 0);
