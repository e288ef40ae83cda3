-- mcp-edge schema (DESIGN.md §3). SQLite/D1: TEXT ids, JSON as TEXT, timestamps as ISO-8601
-- UTC text ("2026-11-21T20:17:36.123Z", sortable), durations in integer milliseconds.
-- There is no row-level security in D1: every query in shared/src/repo filters by team_id.

CREATE TABLE teams (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tier                     TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    -- enterprise (or any tier's override): requests per hour; NULL = the tier's default
    rate_limit_per_hour      INTEGER CHECK (rate_limit_per_hour IS NULL OR rate_limit_per_hour > 0),
    -- call_tool budget per user per day; NULL = the deployment default
    user_calls_per_day       INTEGER CHECK (user_calls_per_day IS NULL OR user_calls_per_day > 0),
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE mcp_servers (
    id                       TEXT PRIMARY KEY,
    team_id                  TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name                     TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    description              TEXT CHECK (description IS NULL OR length(description) <= 2000),
    server_type              TEXT NOT NULL CHECK (server_type IN ('http', 'sse', 'stdio')),
    -- url, pinned transport, non-secret headers; stdio: command, args, env names. Never secrets.
    config                   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    is_active                INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    connection_status        TEXT NOT NULL DEFAULT 'pending'
                             CHECK (connection_status IN ('pending', 'connected', 'error', 'disconnected')),
    last_connected_at        TEXT,
    last_error               TEXT,
    consecutive_failures     INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    created_by               TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (team_id, name)
);
CREATE INDEX idx_mcp_servers_team_active ON mcp_servers (team_id, is_active);

CREATE TABLE mcp_tools (
    id                       TEXT PRIMARY KEY,
    server_id                TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    team_id                  TEXT NOT NULL,
    tool_name                TEXT NOT NULL CHECK (length(tool_name) BETWEEN 1 AND 256),
    title                    TEXT,
    description              TEXT,
    input_schema             TEXT NOT NULL DEFAULT '{"type":"object"}' CHECK (json_valid(input_schema)),
    annotations              TEXT CHECK (annotations IS NULL OR json_valid(annotations)),
    is_enabled               INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0, 1)),
    requires_confirmation    INTEGER NOT NULL DEFAULT 0 CHECK (requires_confirmation IN (0, 1)),
    timeout_seconds          INTEGER NOT NULL DEFAULT 30 CHECK (timeout_seconds BETWEEN 1 AND 300),
    cacheable                INTEGER NOT NULL DEFAULT 0 CHECK (cacheable IN (0, 1)),
    execution_count          INTEGER NOT NULL DEFAULT 0,
    success_count            INTEGER NOT NULL DEFAULT 0,
    error_count              INTEGER NOT NULL DEFAULT 0,
    avg_duration_ms          REAL NOT NULL DEFAULT 0,
    last_executed_at         TEXT,
    synced_at                TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (server_id, tool_name)
);
CREATE INDEX idx_mcp_tools_team ON mcp_tools (team_id, is_enabled);

-- No foreign keys to servers/tools: history stays readable after a server or tool is deleted.
CREATE TABLE mcp_tool_executions (
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
                             CHECK (status IN ('pending', 'success', 'error', 'timeout')),
    started_at               TEXT NOT NULL,
    completed_at             TEXT,
    duration_ms              INTEGER CHECK (duration_ms IS NULL OR duration_ms >= 0)
);
CREATE INDEX idx_executions_team_started ON mcp_tool_executions (team_id, started_at);
CREATE INDEX idx_executions_tool_started ON mcp_tool_executions (tool_id, started_at);
CREATE INDEX idx_executions_team_user ON mcp_tool_executions (team_id, user_id, started_at);
CREATE INDEX idx_executions_status ON mcp_tool_executions (status, started_at);

CREATE TABLE mcp_server_credentials (
    id                       TEXT PRIMARY KEY,
    server_id                TEXT NOT NULL UNIQUE REFERENCES mcp_servers (id) ON DELETE CASCADE,
    team_id                  TEXT NOT NULL,
    credential_type          TEXT NOT NULL
                             CHECK (credential_type IN ('api_key', 'bearer', 'basic_auth', 'oauth_token', 'custom_headers')),
    -- AES-256-GCM: base64(nonce || ciphertext || tag); plaintext never stored
    encrypted_value          TEXT NOT NULL,
    key_id                   TEXT NOT NULL,
    header_name              TEXT,
    expires_at               TEXT,
    last_used_at             TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_credentials_team ON mcp_server_credentials (team_id);
