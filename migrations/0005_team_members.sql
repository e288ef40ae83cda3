-- Who belongs to which team, and as what (DESIGN.md §3, §4). Membership is ours to know: the
-- JWT proves who the user is (`sub`); this table says which teams they may act in and with
-- which role. Nothing a user can write reaches it except through the member actions, which
-- only a team's admins and owners may run (shared/src/membership.rs has the rules).
CREATE TABLE team_members (
    team_id                  TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id                  TEXT NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
    role                     TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    added_by                 TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (team_id, user_id)
);
-- "Which teams is this user in" (a request that names no team).
CREATE INDEX idx_team_members_user ON team_members (user_id, team_id);

-- Who created a team (self-service create_team), for the record.
ALTER TABLE teams ADD COLUMN created_by TEXT;
