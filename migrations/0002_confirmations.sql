-- Single use of confirmation tokens (shared/src/confirmation.rs). A token is proven genuine by
-- its HMAC; redeeming it inserts its id here, and the primary key makes a second redemption
-- fail. Rows are only needed until the token expires; redemptions delete their team's expired
-- rows as they go.
CREATE TABLE mcp_confirmations_used (
    token_id                 TEXT PRIMARY KEY,
    team_id                  TEXT NOT NULL,
    user_id                  TEXT NOT NULL,
    server_id                TEXT NOT NULL,
    tool_name                TEXT NOT NULL,
    expires_at               TEXT NOT NULL,
    used_at                  TEXT NOT NULL
);
CREATE INDEX idx_confirmations_team_expiry ON mcp_confirmations_used (team_id, expires_at);
