"""Baseline for scripts/bench-mcp-client.sh: the official Python MCP SDK client (PyPI `mcp`).

    .venv/bin/python tests/bench/sdk_client.py <url> <n> [--server-log FILE --log-pattern TEXT]

One `mcp.Client` (mode "auto": server/discover, then the handshake on older servers), one cold
`echo` call, then n sequential warm `echo` calls, timed one by one. Prints one key=value line
in the format of shared/examples/bench_client.rs. Loopback only; bounded by n (<= 100000).
"""

from __future__ import annotations

import argparse
import math
import time

import anyio
from mcp import Client


def count_lines(path: str | None, pattern: str | None) -> int | None:
    if not path or not pattern:
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if pattern in line)


def percentile(sorted_ms: list[float], q: float) -> float:
    rank = min(max(math.ceil(q * len(sorted_ms)), 1), len(sorted_ms))
    return sorted_ms[rank - 1]


async def run(args: argparse.Namespace) -> None:
    async with Client(args.url, read_timeout_seconds=10) as client:
        await client.call_tool("echo", {"message": "bench 0"})
        before = count_lines(args.server_log, args.log_pattern)
        times: list[float] = []
        start = time.perf_counter()
        for i in range(1, args.n + 1):
            t = time.perf_counter()
            result = await client.call_tool("echo", {"message": f"bench {i}"})
            times.append((time.perf_counter() - t) * 1000)
            if result.is_error:
                raise SystemExit(f"call {i} failed: {result}")
        total = time.perf_counter() - start
    after = count_lines(args.server_log, args.log_pattern)
    server = f"{(after - before) / args.n:.3f}" if before is not None and after is not None else "n/a"
    times.sort()
    print(
        f"client=python-sdk n={args.n} cold_requests=n/a warm_requests_per_call_client=n/a "
        f"warm_requests_per_call_server={server} p50_ms={percentile(times, 0.5):.3f} "
        f"p95_ms={percentile(times, 0.95):.3f} p99_ms={percentile(times, 0.99):.3f} "
        f"calls_per_s={args.n / total:.1f}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("n", type=int)
    p.add_argument("--server-log")
    p.add_argument("--log-pattern")
    args = p.parse_args()
    if not 0 < args.n <= 100_000:
        raise SystemExit("n must be in 1..100000")
    anyio.run(run, args)


if __name__ == "__main__":
    main()
