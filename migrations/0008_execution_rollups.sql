-- Rollups of finished executions, maintained as executions finish (shared/src/repo/rollups.rs:
-- `fold`, in the same D1 batch as the statement that makes the execution final), so that the
-- analytics reports (shared/src/repo/analytics.rs) read a few thousand rollup rows instead of
-- scanning mcp_tool_executions. Pending executions are not rolled up: the reports add the
-- team's pending rows of the window live (idx_executions_pending below).
--
-- Every table is keyed by team_id first (D1 has no row-level security: every read filters by
-- team first). Times are UTC: `start_day` / `day` is 'YYYY-MM-DD' of the execution's started_at.
-- `span` 1 is one day, `span` 8 is the block of 8 days starting at an epoch day divisible by 8
-- (1970-01-01 is day 0): a report over [since, today] reads the days of since's partial block
-- and then whole blocks, at most 7 + ceil(days / 8) periods per group instead of `days`.
-- h0..h71 hold a log-linear duration histogram of 144 buckets (rollups.rs `bucket`): 0–15 ms
-- exact, then 8 buckets per power of two up to 2^20 ms, the last bucket also holding everything
-- longer. Two buckets per column (D1 allows 100 columns per table): column j holds the count of
-- bucket 2j in its low 32 bits and of bucket 2j+1 above, so that adding columns adds both
-- counts (a window may hold up to 2^31 executions per tool).

CREATE TABLE execution_rollup_tools (
    team_id          TEXT NOT NULL,
    span             INTEGER NOT NULL CHECK (span IN (1, 8)),
    start_day        TEXT NOT NULL,
    server_id        TEXT NOT NULL,
    tool_name        TEXT NOT NULL,
    successes        INTEGER NOT NULL DEFAULT 0,
    errors           INTEGER NOT NULL DEFAULT 0,
    timeouts         INTEGER NOT NULL DEFAULT 0,
    timed            INTEGER NOT NULL DEFAULT 0,
    duration_sum     INTEGER NOT NULL DEFAULT 0,
    duration_min     INTEGER,
    duration_max     INTEGER,
    last_started_at  TEXT NOT NULL,
    h0 INTEGER NOT NULL DEFAULT 0,
    h1 INTEGER NOT NULL DEFAULT 0,
    h2 INTEGER NOT NULL DEFAULT 0,
    h3 INTEGER NOT NULL DEFAULT 0,
    h4 INTEGER NOT NULL DEFAULT 0,
    h5 INTEGER NOT NULL DEFAULT 0,
    h6 INTEGER NOT NULL DEFAULT 0,
    h7 INTEGER NOT NULL DEFAULT 0,
    h8 INTEGER NOT NULL DEFAULT 0,
    h9 INTEGER NOT NULL DEFAULT 0,
    h10 INTEGER NOT NULL DEFAULT 0,
    h11 INTEGER NOT NULL DEFAULT 0,
    h12 INTEGER NOT NULL DEFAULT 0,
    h13 INTEGER NOT NULL DEFAULT 0,
    h14 INTEGER NOT NULL DEFAULT 0,
    h15 INTEGER NOT NULL DEFAULT 0,
    h16 INTEGER NOT NULL DEFAULT 0,
    h17 INTEGER NOT NULL DEFAULT 0,
    h18 INTEGER NOT NULL DEFAULT 0,
    h19 INTEGER NOT NULL DEFAULT 0,
    h20 INTEGER NOT NULL DEFAULT 0,
    h21 INTEGER NOT NULL DEFAULT 0,
    h22 INTEGER NOT NULL DEFAULT 0,
    h23 INTEGER NOT NULL DEFAULT 0,
    h24 INTEGER NOT NULL DEFAULT 0,
    h25 INTEGER NOT NULL DEFAULT 0,
    h26 INTEGER NOT NULL DEFAULT 0,
    h27 INTEGER NOT NULL DEFAULT 0,
    h28 INTEGER NOT NULL DEFAULT 0,
    h29 INTEGER NOT NULL DEFAULT 0,
    h30 INTEGER NOT NULL DEFAULT 0,
    h31 INTEGER NOT NULL DEFAULT 0,
    h32 INTEGER NOT NULL DEFAULT 0,
    h33 INTEGER NOT NULL DEFAULT 0,
    h34 INTEGER NOT NULL DEFAULT 0,
    h35 INTEGER NOT NULL DEFAULT 0,
    h36 INTEGER NOT NULL DEFAULT 0,
    h37 INTEGER NOT NULL DEFAULT 0,
    h38 INTEGER NOT NULL DEFAULT 0,
    h39 INTEGER NOT NULL DEFAULT 0,
    h40 INTEGER NOT NULL DEFAULT 0,
    h41 INTEGER NOT NULL DEFAULT 0,
    h42 INTEGER NOT NULL DEFAULT 0,
    h43 INTEGER NOT NULL DEFAULT 0,
    h44 INTEGER NOT NULL DEFAULT 0,
    h45 INTEGER NOT NULL DEFAULT 0,
    h46 INTEGER NOT NULL DEFAULT 0,
    h47 INTEGER NOT NULL DEFAULT 0,
    h48 INTEGER NOT NULL DEFAULT 0,
    h49 INTEGER NOT NULL DEFAULT 0,
    h50 INTEGER NOT NULL DEFAULT 0,
    h51 INTEGER NOT NULL DEFAULT 0,
    h52 INTEGER NOT NULL DEFAULT 0,
    h53 INTEGER NOT NULL DEFAULT 0,
    h54 INTEGER NOT NULL DEFAULT 0,
    h55 INTEGER NOT NULL DEFAULT 0,
    h56 INTEGER NOT NULL DEFAULT 0,
    h57 INTEGER NOT NULL DEFAULT 0,
    h58 INTEGER NOT NULL DEFAULT 0,
    h59 INTEGER NOT NULL DEFAULT 0,
    h60 INTEGER NOT NULL DEFAULT 0,
    h61 INTEGER NOT NULL DEFAULT 0,
    h62 INTEGER NOT NULL DEFAULT 0,
    h63 INTEGER NOT NULL DEFAULT 0,
    h64 INTEGER NOT NULL DEFAULT 0,
    h65 INTEGER NOT NULL DEFAULT 0,
    h66 INTEGER NOT NULL DEFAULT 0,
    h67 INTEGER NOT NULL DEFAULT 0,
    h68 INTEGER NOT NULL DEFAULT 0,
    h69 INTEGER NOT NULL DEFAULT 0,
    h70 INTEGER NOT NULL DEFAULT 0,
    h71 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, span, start_day, server_id, tool_name)
) WITHOUT ROWID;
-- Retention deletes whole periods across teams.
CREATE INDEX idx_rollup_tools_period ON execution_rollup_tools (span, start_day);

-- Failures by tool, status and message (the first 300 characters of the error text, as the
-- report groups them), with the last occurrence.
CREATE TABLE execution_rollup_errors (
    team_id            TEXT NOT NULL,
    span               INTEGER NOT NULL CHECK (span IN (1, 8)),
    start_day          TEXT NOT NULL,
    server_id          TEXT NOT NULL,
    tool_name          TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('error', 'timeout')),
    message            TEXT NOT NULL,
    occurrences        INTEGER NOT NULL,
    last_occurred_at   TEXT NOT NULL,
    last_execution_id  TEXT NOT NULL,
    PRIMARY KEY (team_id, span, start_day, server_id, tool_name, status, message)
) WITHOUT ROWID;
CREATE INDEX idx_rollup_errors_period ON execution_rollup_errors (span, start_day);

-- Per user and day.
CREATE TABLE execution_rollup_users (
    team_id          TEXT NOT NULL,
    day              TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    successes        INTEGER NOT NULL DEFAULT 0,
    errors           INTEGER NOT NULL DEFAULT 0,
    timeouts         INTEGER NOT NULL DEFAULT 0,
    timed            INTEGER NOT NULL DEFAULT 0,
    duration_sum     INTEGER NOT NULL DEFAULT 0,
    last_started_at  TEXT NOT NULL,
    PRIMARY KEY (team_id, day, user_id)
) WITHOUT ROWID;
CREATE INDEX idx_rollup_users_day ON execution_rollup_users (day);

-- A user's last finished execution of each tool: the tools a user used in a window ending now
-- are exactly those whose last use is in the window (distinct_tools without a per-day set).
CREATE TABLE execution_rollup_user_tools (
    team_id          TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    server_id        TEXT NOT NULL,
    tool_name        TEXT NOT NULL,
    last_started_at  TEXT NOT NULL,
    PRIMARY KEY (team_id, user_id, server_id, tool_name)
) WITHOUT ROWID;
CREATE INDEX idx_rollup_user_tools_last ON execution_rollup_user_tools (last_started_at);

-- The reports no longer read a tool's executions in duration order (the histogram has them);
-- they read a tool's window in time order, for exact percentiles while the window holds few
-- finished executions (repo/analytics.rs EXACT_PERCENTILES_MAX: at most that many entries).
DROP INDEX IF EXISTS idx_executions_team_tool_duration;

-- The reports add the window's pending executions live: a partial index of only those (few:
-- cron closes an abandoned call within minutes), covering what the reports read of them.
CREATE INDEX idx_executions_pending ON mcp_tool_executions
    (team_id, started_at, user_id, server_id, tool_name) WHERE status = 'pending';
CREATE INDEX idx_executions_team_tool_time ON mcp_tool_executions
    (team_id, server_id, tool_name, started_at, duration_ms);

-- backfill:begin (the same numbers `fold` keeps; tests/bench/gen_executions.py runs this part)
INSERT INTO execution_rollup_tools (team_id, span, start_day, server_id, tool_name, successes,
    errors, timeouts, timed, duration_sum, duration_min, duration_max, last_started_at,
    h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, h31, h32, h33, h34, h35, h36, h37, h38, h39, h40, h41, h42, h43, h44, h45, h46, h47, h48, h49, h50, h51, h52, h53, h54, h55, h56, h57, h58, h59, h60, h61, h62, h63, h64, h65, h66, h67, h68, h69, h70, h71)
SELECT team_id, 1, day, server_id, tool_name,
       sum(successes), sum(errors), sum(timeouts), sum(timed), sum(duration_sum),
       min(duration_min), max(duration_max), max(last_started_at),
       sum(n * ((b = 0) + (b = 1) * 4294967296)), sum(n * ((b = 2) + (b = 3) * 4294967296)), sum(n * ((b = 4) + (b = 5) * 4294967296)), sum(n * ((b = 6) + (b = 7) * 4294967296)),
       sum(n * ((b = 8) + (b = 9) * 4294967296)), sum(n * ((b = 10) + (b = 11) * 4294967296)), sum(n * ((b = 12) + (b = 13) * 4294967296)), sum(n * ((b = 14) + (b = 15) * 4294967296)),
       sum(n * ((b = 16) + (b = 17) * 4294967296)), sum(n * ((b = 18) + (b = 19) * 4294967296)), sum(n * ((b = 20) + (b = 21) * 4294967296)), sum(n * ((b = 22) + (b = 23) * 4294967296)),
       sum(n * ((b = 24) + (b = 25) * 4294967296)), sum(n * ((b = 26) + (b = 27) * 4294967296)), sum(n * ((b = 28) + (b = 29) * 4294967296)), sum(n * ((b = 30) + (b = 31) * 4294967296)),
       sum(n * ((b = 32) + (b = 33) * 4294967296)), sum(n * ((b = 34) + (b = 35) * 4294967296)), sum(n * ((b = 36) + (b = 37) * 4294967296)), sum(n * ((b = 38) + (b = 39) * 4294967296)),
       sum(n * ((b = 40) + (b = 41) * 4294967296)), sum(n * ((b = 42) + (b = 43) * 4294967296)), sum(n * ((b = 44) + (b = 45) * 4294967296)), sum(n * ((b = 46) + (b = 47) * 4294967296)),
       sum(n * ((b = 48) + (b = 49) * 4294967296)), sum(n * ((b = 50) + (b = 51) * 4294967296)), sum(n * ((b = 52) + (b = 53) * 4294967296)), sum(n * ((b = 54) + (b = 55) * 4294967296)),
       sum(n * ((b = 56) + (b = 57) * 4294967296)), sum(n * ((b = 58) + (b = 59) * 4294967296)), sum(n * ((b = 60) + (b = 61) * 4294967296)), sum(n * ((b = 62) + (b = 63) * 4294967296)),
       sum(n * ((b = 64) + (b = 65) * 4294967296)), sum(n * ((b = 66) + (b = 67) * 4294967296)), sum(n * ((b = 68) + (b = 69) * 4294967296)), sum(n * ((b = 70) + (b = 71) * 4294967296)),
       sum(n * ((b = 72) + (b = 73) * 4294967296)), sum(n * ((b = 74) + (b = 75) * 4294967296)), sum(n * ((b = 76) + (b = 77) * 4294967296)), sum(n * ((b = 78) + (b = 79) * 4294967296)),
       sum(n * ((b = 80) + (b = 81) * 4294967296)), sum(n * ((b = 82) + (b = 83) * 4294967296)), sum(n * ((b = 84) + (b = 85) * 4294967296)), sum(n * ((b = 86) + (b = 87) * 4294967296)),
       sum(n * ((b = 88) + (b = 89) * 4294967296)), sum(n * ((b = 90) + (b = 91) * 4294967296)), sum(n * ((b = 92) + (b = 93) * 4294967296)), sum(n * ((b = 94) + (b = 95) * 4294967296)),
       sum(n * ((b = 96) + (b = 97) * 4294967296)), sum(n * ((b = 98) + (b = 99) * 4294967296)), sum(n * ((b = 100) + (b = 101) * 4294967296)), sum(n * ((b = 102) + (b = 103) * 4294967296)),
       sum(n * ((b = 104) + (b = 105) * 4294967296)), sum(n * ((b = 106) + (b = 107) * 4294967296)), sum(n * ((b = 108) + (b = 109) * 4294967296)), sum(n * ((b = 110) + (b = 111) * 4294967296)),
       sum(n * ((b = 112) + (b = 113) * 4294967296)), sum(n * ((b = 114) + (b = 115) * 4294967296)), sum(n * ((b = 116) + (b = 117) * 4294967296)), sum(n * ((b = 118) + (b = 119) * 4294967296)),
       sum(n * ((b = 120) + (b = 121) * 4294967296)), sum(n * ((b = 122) + (b = 123) * 4294967296)), sum(n * ((b = 124) + (b = 125) * 4294967296)), sum(n * ((b = 126) + (b = 127) * 4294967296)),
       sum(n * ((b = 128) + (b = 129) * 4294967296)), sum(n * ((b = 130) + (b = 131) * 4294967296)), sum(n * ((b = 132) + (b = 133) * 4294967296)), sum(n * ((b = 134) + (b = 135) * 4294967296)),
       sum(n * ((b = 136) + (b = 137) * 4294967296)), sum(n * ((b = 138) + (b = 139) * 4294967296)), sum(n * ((b = 140) + (b = 141) * 4294967296)), sum(n * ((b = 142) + (b = 143) * 4294967296))
FROM (SELECT team_id, day, server_id, tool_name, b,
             sum(status = 'success') AS successes, sum(status = 'error') AS errors,
             sum(status = 'timeout') AS timeouts, count(duration_ms) AS timed,
             coalesce(sum(duration_ms), 0) AS duration_sum, min(duration_ms) AS duration_min,
             max(duration_ms) AS duration_max, max(started_at) AS last_started_at, count(*) AS n
      FROM (SELECT team_id, substr(started_at, 1, 10) AS day, server_id, tool_name, status,
                   started_at, duration_ms,
                   coalesce(CASE WHEN duration_ms < 8 THEN duration_ms
                                 WHEN duration_ms >= 1048576 THEN 143
                                 ELSE 8 + (e - 3) * 8 + ((duration_ms >> (e - 3)) & 7) END, -1) AS b
            FROM (SELECT *, 3 + (duration_ms >= 16) + (duration_ms >= 32) + (duration_ms >= 64) + (duration_ms >= 128) + (duration_ms >= 256) + (duration_ms >= 512) + (duration_ms >= 1024) + (duration_ms >= 2048) + (duration_ms >= 4096) + (duration_ms >= 8192) + (duration_ms >= 16384) + (duration_ms >= 32768) + (duration_ms >= 65536) + (duration_ms >= 131072) + (duration_ms >= 262144) + (duration_ms >= 524288) AS e
                  FROM mcp_tool_executions WHERE status != 'pending'))
      GROUP BY team_id, day, server_id, tool_name, b)
GROUP BY team_id, day, server_id, tool_name;

INSERT INTO execution_rollup_tools (team_id, span, start_day, server_id, tool_name, successes,
    errors, timeouts, timed, duration_sum, duration_min, duration_max, last_started_at,
    h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, h31, h32, h33, h34, h35, h36, h37, h38, h39, h40, h41, h42, h43, h44, h45, h46, h47, h48, h49, h50, h51, h52, h53, h54, h55, h56, h57, h58, h59, h60, h61, h62, h63, h64, h65, h66, h67, h68, h69, h70, h71)
SELECT team_id, 8, date(start_day, '-' || ((CAST(julianday(start_day) - 2440587.5 AS INTEGER)) % 8) || ' days') AS block, server_id, tool_name,
       sum(successes), sum(errors), sum(timeouts), sum(timed), sum(duration_sum),
       min(duration_min), max(duration_max), max(last_started_at),
       sum(h0), sum(h1), sum(h2), sum(h3), sum(h4), sum(h5), sum(h6), sum(h7),
       sum(h8), sum(h9), sum(h10), sum(h11), sum(h12), sum(h13), sum(h14), sum(h15),
       sum(h16), sum(h17), sum(h18), sum(h19), sum(h20), sum(h21), sum(h22), sum(h23),
       sum(h24), sum(h25), sum(h26), sum(h27), sum(h28), sum(h29), sum(h30), sum(h31),
       sum(h32), sum(h33), sum(h34), sum(h35), sum(h36), sum(h37), sum(h38), sum(h39),
       sum(h40), sum(h41), sum(h42), sum(h43), sum(h44), sum(h45), sum(h46), sum(h47),
       sum(h48), sum(h49), sum(h50), sum(h51), sum(h52), sum(h53), sum(h54), sum(h55),
       sum(h56), sum(h57), sum(h58), sum(h59), sum(h60), sum(h61), sum(h62), sum(h63),
       sum(h64), sum(h65), sum(h66), sum(h67), sum(h68), sum(h69), sum(h70), sum(h71)
FROM execution_rollup_tools WHERE span = 1
GROUP BY team_id, block, server_id, tool_name;

INSERT INTO execution_rollup_errors (team_id, span, start_day, server_id, tool_name, status,
    message, occurrences, last_occurred_at, last_execution_id)
SELECT team_id, 1, substr(started_at, 1, 10) AS day, server_id, tool_name, status,
       substr(coalesce(error, ''), 1, 300) AS message, count(*), max(started_at), id
FROM mcp_tool_executions WHERE status IN ('error', 'timeout')
GROUP BY team_id, day, server_id, tool_name, status, message;

INSERT INTO execution_rollup_errors (team_id, span, start_day, server_id, tool_name, status,
    message, occurrences, last_occurred_at, last_execution_id)
SELECT team_id, 8, date(start_day, '-' || ((CAST(julianday(start_day) - 2440587.5 AS INTEGER)) % 8) || ' days') AS block, server_id, tool_name, status, message,
       sum(occurrences), max(last_occurred_at), last_execution_id
FROM execution_rollup_errors WHERE span = 1
GROUP BY team_id, block, server_id, tool_name, status, message;

INSERT INTO execution_rollup_users (team_id, day, user_id, successes, errors, timeouts, timed,
    duration_sum, last_started_at)
SELECT team_id, substr(started_at, 1, 10) AS day, user_id,
       sum(status = 'success'), sum(status = 'error'), sum(status = 'timeout'),
       count(duration_ms), coalesce(sum(duration_ms), 0), max(started_at)
FROM mcp_tool_executions WHERE status != 'pending'
GROUP BY team_id, day, user_id;

INSERT INTO execution_rollup_user_tools (team_id, user_id, server_id, tool_name, last_started_at)
SELECT team_id, user_id, server_id, tool_name, max(started_at)
FROM mcp_tool_executions WHERE status != 'pending'
GROUP BY team_id, user_id, server_id, tool_name;
-- backfill:end
