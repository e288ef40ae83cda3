-- Pinned tool definitions (issue 13; shared/src/repo/tools.rs, shared/src/actions/sync_tools.rs).
-- The definition columns of mcp_tools (title, description, input_schema, annotations) hold the
-- APPROVED definition, the one list_tools serves and call_tool validates against. A sync that
-- finds a different definition upstream keeps it aside (pending_definition) and marks the tool
-- pending_approval until an admin runs approve_tool.

-- SHA-256 (hex) of the canonical JSON of the approved definition. NULL on rows synced before
-- this migration: their next sync pins what they hold (trust on first use).
ALTER TABLE mcp_tools ADD COLUMN definition_hash TEXT;
ALTER TABLE mcp_tools ADD COLUMN approval_state TEXT NOT NULL DEFAULT 'approved'
    CHECK (approval_state IN ('approved', 'pending_approval'));
-- The changed definition a sync found ({name, title, description, input_schema, annotations})
-- and its hash; NULL unless approval_state = 'pending_approval'.
ALTER TABLE mcp_tools ADD COLUMN pending_definition TEXT
    CHECK (pending_definition IS NULL OR json_valid(pending_definition));
ALTER TABLE mcp_tools ADD COLUMN pending_definition_hash TEXT;

-- What a changed tool does until it is approved: keep serving its previous definition
-- ('keep_previous'), or also refuse calls to it ('disable', call_tool answers 409).
ALTER TABLE teams ADD COLUMN on_tool_change TEXT NOT NULL DEFAULT 'keep_previous'
    CHECK (on_tool_change IN ('keep_previous', 'disable'));
