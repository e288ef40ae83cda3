#!/usr/bin/env python3
"""Times the analytics actions through the real API and explains their SQL, for
scripts/bench-analytics.sh (which loads the data and runs wrangler dev).

    bench_analytics.py api   --api URL --admin-token JWT [--runs 5]
    bench_analytics.py plans --db <local D1 .sqlite> --statements <json> [--runs 3] [--team bench-big]

`api`: every report at 30 and 90 days, list_executions (first page, filtered pages, a page
4,000 rows deep) and get_execution, each `--runs` times through gateway → admin worker → D1;
printed beside a baseline measured the same way (`list_servers`: the same path and a trivial
query). `plans`: for each statement the admin worker runs (printed by
`cargo run -p shared --example analytics_sql`), the time SQLite itself takes on the same file
(median of `--runs`, realistic parameters) and its EXPLAIN QUERY PLAN.
"""

from __future__ import annotations

import argparse
import calendar
import json
import sqlite3
import statistics
import sys
import time
import urllib.request

DAY_MS = 86_400_000


def post(api: str, token: str, body: dict) -> tuple[float, dict]:
    req = urllib.request.Request(
        api,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
        method="POST",
    )
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            text = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        text, status = e.read(), e.code
    elapsed = (time.perf_counter() - began) * 1000
    answer = json.loads(text)
    if status != 200:
        sys.exit(f"{body} answered {status}: {answer}")
    return elapsed, answer


def size_of(answer: dict) -> str:
    for key in ("tools", "trends", "errors", "users", "executions", "servers"):
        if key in answer:
            return f"{len(answer[key])} {key}"
    return "1 execution" if "execution" in answer else ""


def api(args: argparse.Namespace) -> None:
    url = args.api.rstrip("/") + "/"
    token = args.admin_token
    _, first = post(url, token, {"action": "list_executions", "limit": 1})
    sample = first["executions"][0]
    cases: list[tuple[str, dict]] = [("baseline: list_servers", {"action": "list_servers"})]
    for days in (1, 7, 30, 90):
        for report in ("most_used", "percentiles", "daily_trends", "errors", "user_activity"):
            cases.append(
                (f"analytics {report} days={days}", {"action": "analytics", "report": report, "days": days})
            )
    cases += [
        ("list_executions limit=50", {"action": "list_executions", "limit": 50}),
        ("list_executions limit=200", {"action": "list_executions", "limit": 200}),
        ("list_executions user_id", {"action": "list_executions", "limit": 50, "user_id": sample["user_id"]}),
        ("list_executions server_id", {"action": "list_executions", "limit": 50, "server_id": sample["server_id"]}),
        (
            "list_executions tool_name+status=error",
            {"action": "list_executions", "limit": 50, "tool_name": sample["tool_name"], "status": "error"},
        ),
        ("list_executions status=timeout", {"action": "list_executions", "limit": 50, "status": "timeout"}),
        (
            "list_executions since/until (1 day)",
            {"action": "list_executions", "limit": 50, "since": sample["started_at"][:10]},
        ),
        ("get_execution", {"action": "get_execution", "execution_id": sample["id"]}),
    ]
    # A cursor 4,000 rows deep (20 pages of 200).
    cursor = None
    for _ in range(20):
        _, page = post(url, token, {"action": "list_executions", "limit": 200, "cursor": cursor})
        cursor = page["next_cursor"]
    cases.append(("list_executions page 21 (4,000 deep)", {"action": "list_executions", "limit": 200, "cursor": cursor}))

    print(f"{'query (through the API)':44} {'min ms':>8} {'median':>8} {'max':>8}  answer")
    for name, body in cases:
        post(url, token, body)  # warm
        times = []
        answer: dict = {}
        for _ in range(args.runs):
            t, answer = post(url, token, body)
            times.append(t)
        print(
            f"{name:44} {min(times):8.1f} {statistics.median(times):8.1f} {max(times):8.1f}  {size_of(answer)}"
        )


def first_block(since: str) -> str:
    """The first 8-day rollup block (epoch days divisible by 8) on or after `since`'s day."""
    day = calendar.timegm(time.strptime(since[:10], "%Y-%m-%d")) // 86_400
    day += (8 - day % 8) % 8
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def params_for(name: str, db: sqlite3.Connection, team: str, now_ms: int) -> list:
    from_iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
    row = db.execute(
        "SELECT id, user_id, server_id FROM mcp_tool_executions WHERE team_id = ? ORDER BY started_at DESC LIMIT 1",
        (team,),
    ).fetchone()
    top = ("9999-12-31T23:59:59.999Z", "")
    low = "0000-01-01T00:00:00.000Z"
    since = lambda days: from_iso((now_ms - now_ms % DAY_MS) - (days - 1) * DAY_MS)
    day30, block30 = since(30)[:10], first_block(since(30))
    return {
        "tool_stats": [team, day30, block30, since(30), 20],
        "daily": [team, day30, since(30)],
        "errors": [team, day30, block30, 20],
        "users": [team, day30, since(30), 20],
        "list_all": [team, low, *top, None, None, None, None, 51],
        "list_by_user": [team, low, *top, None, None, None, row[1], 51],
        "list_by_server": [team, low, *top, row[2], None, None, None, 51],
        "get": [team, row[0], None],
        "retention_batch": [from_iso(now_ms - 89 * DAY_MS), 500],
    }[name]


def plans(args: argparse.Namespace) -> None:
    statements = json.load(open(args.statements))
    db = sqlite3.connect(args.db, isolation_level=None)
    now_ms = int(time.time() * 1000)
    total = db.execute("SELECT count(*) FROM mcp_tool_executions").fetchone()[0]
    team_rows = db.execute("SELECT count(*) FROM mcp_tool_executions WHERE team_id = ?", (args.team,)).fetchone()[0]
    print(f"{total:,} executions, {team_rows:,} of them in {args.team}; SQLite {sqlite3.sqlite_version}\n")
    for st in statements:
        name, sql = st["name"], st["sql"]
        params = params_for(name, db, args.team, now_ms)
        times = []
        rows = 0
        for _ in range(args.runs):
            db.execute("BEGIN")
            began = time.perf_counter()
            cur = db.execute(sql, params)
            rows = len(cur.fetchall()) if cur.description else cur.rowcount
            times.append((time.perf_counter() - began) * 1000)
            db.execute("ROLLBACK")  # the retention batch deletes; nothing is kept
        plan = db.execute("EXPLAIN QUERY PLAN " + sql, [None] * len(params)).fetchall()
        print(f"== {name}: {statistics.median(times):.1f} ms in SQLite ({rows} rows)")
        for _, parent, _, detail in plan:
            print(f"   {'  ' if parent else ''}{detail}")
    db.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("api")
    a.add_argument("--api", required=True)
    a.add_argument("--admin-token", required=True)
    a.add_argument("--runs", type=int, default=5)
    b = sub.add_parser("plans")
    b.add_argument("--db", required=True)
    b.add_argument("--statements", required=True)
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--team", default="bench-big")
    args = p.parse_args()
    api(args) if args.cmd == "api" else plans(args)


if __name__ == "__main__":
    main()
