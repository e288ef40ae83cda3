-- Background executions (issue 17): a new final status `cancelled` (a user cancelled a running
-- execution: nothing of its result is stored), counted by the rollups as `cancellations`; and
-- the tool policy for background runs: `long_running` (call_tool runs it in the background
-- unless the caller asks for "mode": "sync") and `async_timeout_seconds` (its time budget in the
-- background, 1..3600; NULL: the tool's timeout_seconds).
--
-- SQLite cannot alter a CHECK constraint: mcp_tool_executions is rebuilt with the same columns
-- and indexes (as of migration 0009), rows copied unchanged.
CREATE TABLE mcp_tool_executions_new (
    id                       TEXT PRIMARY KEY,
    team_id                  TEXT NOT NULL,
    user_id                  TEXT NOT NULL,
    server_id                TEXT NOT NULL,
    tool_id                  TEXT,
    server_name              TEXT,
    tool_name                TEXT NOT NULL,
    request_id               TEXT,
    input                    TEXT CHECK (input IS NULL OR json_valid(input)),
    output                   TEXT,
    error                    TEXT,
    status                   TEXT NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'success', 'error', 'timeout', 'cancelled')),
    started_at               TEXT NOT NULL,
    completed_at             TEXT,
    duration_ms              INTEGER CHECK (duration_ms IS NULL OR duration_ms >= 0)
);
INSERT INTO mcp_tool_executions_new (id, team_id, user_id, server_id, tool_id, server_name,
    tool_name, request_id, input, output, error, status, started_at, completed_at, duration_ms)
SELECT id, team_id, user_id, server_id, tool_id, server_name, tool_name, request_id, input,
       output, error, status, started_at, completed_at, duration_ms
FROM mcp_tool_executions;
DROP TABLE mcp_tool_executions;
ALTER TABLE mcp_tool_executions_new RENAME TO mcp_tool_executions;
CREATE INDEX idx_executions_status ON mcp_tool_executions (status, started_at);
CREATE INDEX idx_executions_team_time_cover ON mcp_tool_executions
    (team_id, started_at, id, server_id, tool_name, status, duration_ms, user_id);
CREATE INDEX idx_executions_team_user_time ON mcp_tool_executions
    (team_id, user_id, started_at, id, server_id, tool_name, status, duration_ms);
CREATE INDEX idx_executions_team_server_time ON mcp_tool_executions (team_id, server_id, started_at, id);
CREATE INDEX idx_executions_team_status_time ON mcp_tool_executions (team_id, status, started_at);
CREATE INDEX idx_executions_pending ON mcp_tool_executions
    (team_id, started_at, user_id, server_id, tool_name) WHERE status = 'pending';
CREATE INDEX idx_executions_team_tool_time ON mcp_tool_executions
    (team_id, server_id, tool_name, started_at, duration_ms);

ALTER TABLE execution_rollup_tools ADD COLUMN cancellations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE execution_rollup_users ADD COLUMN cancellations INTEGER NOT NULL DEFAULT 0;

ALTER TABLE mcp_tools ADD COLUMN long_running INTEGER NOT NULL DEFAULT 0
    CHECK (long_running IN (0, 1));
ALTER TABLE mcp_tools ADD COLUMN async_timeout_seconds INTEGER
    CHECK (async_timeout_seconds IS NULL OR async_timeout_seconds BETWEEN 1 AND 3600);

-- A team's completion webhook (one per team): background executions' final events are POSTed
-- there, signed with HMAC-SHA256 under the team's webhook secret, which is sealed here like a
-- credential (AES-256-GCM, bound to the team; shared/src/background/webhook.rs) and shown once.
CREATE TABLE team_webhooks (
    team_id                  TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    url                      TEXT NOT NULL,
    encrypted_secret         TEXT NOT NULL,
    key_id                   TEXT NOT NULL,
    created_by               TEXT NOT NULL,
    created_at               TEXT NOT NULL
);
