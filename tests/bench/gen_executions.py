#!/usr/bin/env python3
"""Loads a synthetic execution history into a local D1 database file, for
scripts/bench-analytics.sh.

    gen_executions.py --db <local D1 .sqlite> [--rows 1000000] [--teams 10] [--big-share 0.5]
                      [--days 90] [--seed 1] [--now-ms <epoch ms>]

Writes straight into the SQLite file that `wrangler d1 migrations apply --local --persist-to`
created (the migrations, indexes included, must already be applied): pushing 1M rows through
`wrangler d1 execute --file` takes far longer than the queries being measured. Rows are
inserted in started_at order (as calls arrive), 20,000 per transaction.

The history: `--teams` teams, the first (`bench-big`) holding `--big-share` of the rows and the
others sharing the rest; each team has 3 servers of 20 tools (popularity skewed: a few tools
take most calls) and 50 users; started_at uniform over the last `--days` days; 90 % success,
7 % error (10 distinct messages), 2.5 % timeout, 0.5 % pending; log-normal durations; small
JSON input and output like real calls.

Then the analytics rollups of the loaded rows: the backfill part of
migrations/0008_execution_rollups.sql (between `-- backfill:begin` and `-- backfill:end`), the
SQL that builds the same rows `shared::repo::rollups::fold` maintains as executions finish.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

ROLLUP_MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "0008_execution_rollups.sql"

SERVERS_PER_TEAM = 3
TOOLS_PER_SERVER = 20
USERS_PER_TEAM = 50
ERROR_MESSAGES = [
    "upstream answered 500: internal server error",
    "tool error: file not found",
    "tool error: permission denied",
    "rate limited by upstream (429)",
    "invalid arguments: 'query' is required",
    "connection reset by peer",
    "tool error: quota exceeded",
    "upstream answered 503: service unavailable",
    "tool error: record is locked",
    "tool error: unknown repository",
]


def iso(ms: int) -> str:
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--teams", type=int, default=10)
    p.add_argument("--big-share", type=float, default=0.5)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--now-ms", type=int, default=int(time.time() * 1000))
    args = p.parse_args()
    rnd = random.Random(args.seed)

    db = sqlite3.connect(args.db)
    db.execute("PRAGMA foreign_keys = ON")
    teams = ["bench-big"] + [f"bench-{i:02d}" for i in range(1, args.teams)]
    catalogue: dict[str, list[tuple[str, str, str, str]]] = {}
    with db:
        for team in teams:
            db.execute(
                "INSERT OR REPLACE INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) "
                "VALUES (?, ?, 'enterprise', 1000000, 1000000)",
                (team, team),
            )
            tools = []
            if team == "bench-big":
                # The admin whose token scripts/bench-analytics.sh mints (membership is ours).
                db.execute(
                    "INSERT OR REPLACE INTO team_members (team_id, user_id, role) VALUES (?, 'bench-admin', 'admin')",
                    (team,),
                )
            for s in range(SERVERS_PER_TEAM):
                server_id = str(uuid.UUID(int=rnd.getrandbits(128)))
                name = f"server-{s}"
                db.execute(
                    "INSERT INTO mcp_servers (id, team_id, name, server_type, config, connection_status) "
                    "VALUES (?, ?, ?, 'http', ?, 'connected')",
                    (server_id, team, name, json.dumps({"url": f"https://mcp{s}.example.com/mcp"})),
                )
                for t in range(TOOLS_PER_SERVER):
                    tool_id = str(uuid.UUID(int=rnd.getrandbits(128)))
                    tool_name = f"tool_{s}_{t}"
                    db.execute(
                        "INSERT INTO mcp_tools (id, server_id, team_id, tool_name, description) VALUES (?, ?, ?, ?, ?)",
                        (tool_id, server_id, team, tool_name, f"Synthetic tool {tool_name}"),
                    )
                    tools.append((server_id, name, tool_id, tool_name))
            catalogue[team] = tools

    # Skewed popularity: weight 1/(rank+1).
    n_tools = SERVERS_PER_TEAM * TOOLS_PER_SERVER
    tool_weights = [1.0 / (r + 1) for r in range(n_tools)]
    small_share = (1.0 - args.big_share) / max(1, len(teams) - 1)
    team_weights = [args.big_share] + [small_share] * (len(teams) - 1)
    span_ms = args.days * 86_400_000
    start_ms = args.now_ms - span_ms
    step = span_ms / args.rows

    sql = (
        "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_id, server_name, tool_name, "
        "request_id, input, output, error, status, started_at, completed_at, duration_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    began = time.time()
    batch: list[tuple] = []
    for i in range(args.rows):
        team = rnd.choices(teams, team_weights)[0]
        server_id, server_name, tool_id, tool_name = rnd.choices(catalogue[team], tool_weights)[0]
        user = f"user-{rnd.randrange(USERS_PER_TEAM):02d}@{team}"
        started = int(start_ms + i * step + rnd.random() * step)
        roll = rnd.random()
        if roll < 0.90:
            status, error = "success", None
            duration = int(math.exp(rnd.gauss(5.5, 1.0)))
        elif roll < 0.97:
            status, error = "error", rnd.choice(ERROR_MESSAGES)
            duration = int(math.exp(rnd.gauss(5.0, 1.0)))
        elif roll < 0.995:
            status, error = "timeout", f"tool '{tool_name}' timed out after 30 s"
            duration = 30_000 + rnd.randrange(50)
        else:
            status, error, duration = "pending", None, None
        completed = iso(started + duration) if duration is not None else None
        output = (
            json.dumps({"content": [{"type": "text", "text": f"result {i} " + "x" * rnd.randrange(40, 160)}]})
            if status == "success"
            else None
        )
        batch.append(
            (
                str(uuid.UUID(int=rnd.getrandbits(128))),
                team,
                user,
                server_id,
                tool_id,
                server_name,
                tool_name,
                f"req-{i}",
                json.dumps({"query": f"q{rnd.randrange(10_000)}", "limit": rnd.randrange(1, 50)}),
                output,
                error,
                status,
                iso(started),
                completed,
                duration,
            )
        )
        if len(batch) == 20_000:
            with db:
                db.executemany(sql, batch)
            batch.clear()
            done = i + 1
            if done % 200_000 == 0:
                print(f"  {done:,} rows ({time.time() - began:.0f} s)", file=sys.stderr)
    if batch:
        with db:
            db.executemany(sql, batch)
    loaded = time.time()
    text = ROLLUP_MIGRATION.read_text()
    backfill = text[text.index("-- backfill:begin") : text.index("-- backfill:end")]
    db.executescript("BEGIN;\n" + backfill + "\nCOMMIT;")
    rollups = db.execute("SELECT count(*) FROM execution_rollup_tools").fetchone()[0]
    print(f"  rollups built in {time.time() - loaded:.0f} s ({rollups:,} tool-period rows)", file=sys.stderr)
    big = db.execute("SELECT count(*) FROM mcp_tool_executions WHERE team_id = 'bench-big'").fetchone()[0]
    total = db.execute("SELECT count(*) FROM mcp_tool_executions").fetchone()[0]
    db.close()
    print(
        f"loaded {total:,} executions ({big:,} in bench-big) over {args.days} days "
        f"in {time.time() - began:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
