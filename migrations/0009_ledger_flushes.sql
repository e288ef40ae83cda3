-- Batches of finished executions flushed to D1 by a team's Durable Object ledger
-- (shared/src/ledger.rs). A batch's first statement inserts its id here, so a batch replayed after
-- a lost answer fails as a whole instead of counting its calls twice; the flusher then reads this
-- table to learn that the batch was applied. Rows older than the retention window are deleted with
-- the executions.
CREATE TABLE ledger_flushes (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL,
    executions INTEGER NOT NULL,
    flushed_at TEXT NOT NULL
);
CREATE INDEX idx_ledger_flushes_time ON ledger_flushes (flushed_at);
