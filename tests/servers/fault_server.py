"""A misbehaving MCP server for mcp-edge's resilience tests.

    .venv/bin/python tests/servers/fault_server.py --port 8940

Speaks Streamable HTTP (protocol 2025-03-26 … 2025-11-25, sessions, JSON and SSE replies) on a
hand-rolled asyncio HTTP/1.1 server, so that it can misbehave at the socket level too (drop a
connection, cut a chunked reply). Binds 127.0.0.1 only. It answers `initialize`, `ping` and
`tools/list` normally, so servers can be created and synced, then misbehaves on `tools/call`
as its URL path says (`POST /mcp/<mode>` or `/mcp/<mode>/<label>`, a separate server with its
own counters; options in the query string):

  ok            answers normally
  hang          never answers (until the client goes away)
  html500       HTTP 500 with an HTML error page
  badjson       HTTP 200 application/json that is not valid JSON
  huge          HTTP 200 with a 5 MiB JSON result (over the client's 4 MiB cap)
  cut           an SSE reply that sends a progress event, then breaks off mid-event (the
                chunked body is never finished: the connection is aborted)
  slowsse       an SSE reply with a progress event every 0.5 s for `seconds` (argument,
                default 2), then the result
  expire        each session serves one tools/call, then is forgotten (later requests on it
                get 404, as after a server restart)
  ratelimit     every odd tools/call of a tool gets 429 with `Retry-After: <retry_after>`
                (query, default 1); the even ones answer
  unavailable   the first `fail` (query, default 2) tools/calls of each tool get 503
  origin_down   the first `fail` (query, default 2) tools/calls of each tool get 521, as
                Cloudflare's edge answers when it cannot connect to the origin behind it
  drop          reads the request, then aborts the connection without answering
  flaky         deterministic mix by arrival number n of tools/call on this path: n % 5 == 0
                → 503 HTML page, else n % 7 == 3 → cut SSE reply, else answers after 20 ms

Tools (on every path): `act` (no annotations: not idempotent) and `read` (readOnlyHint: true);
both take an optional `seconds` (slowsse) and answer "<tool> ok on <mode> #<n>".

Control (for the tests):
  GET  /__stats                      → {"<mode>[/<label>]": {"initialize": n, "tools/call": n,
                                        "tools/call:act": n, "ping": n, "cancelled": n, …}}
  POST /__scope?mode=<m>&scope=all   → /mcp/<m> misbehaves on every POST (initialize, ping …), not
                                        only on tools/call; scope=call restores
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

SUPPORTED = ["2025-03-26", "2025-06-18", "2025-11-25"]
TOOL_SCHEMA = {"type": "object", "properties": {"seconds": {"type": "number"}}}
TOOLS = [
    {"name": "act", "description": "Does something (not idempotent).", "inputSchema": TOOL_SCHEMA},
    {
        "name": "read",
        "description": "Reads something (read-only: safe to retry).",
        "inputSchema": TOOL_SCHEMA,
        "annotations": {"readOnlyHint": True},
    },
]
HTML_500 = (
    b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Internal Server Error</h1><p>The upstream application crashed.</p></body></html>"
)
HUGE_BYTES = 5 * 1024 * 1024
REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    521: "Web Server Is Down",
}

STATS: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
COUNTERS: dict[str, int] = defaultdict(int)
SCOPE: dict[str, str] = {}
SESSIONS: set[str] = set()


class Dropped(Exception):
    """The connection was aborted on purpose."""


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        parts = urlsplit(target)
        self.method = method
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.headers = headers
        self.body = body


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return Request(method, target, headers, body)


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send(
        self, status: int, body: bytes = b"", content_type: str | None = None, extra: list | None = None
    ) -> None:
        headers = [("content-length", str(len(body)))]
        if content_type:
            headers.append(("content-type", content_type))
        self.head(status, headers + (extra or []))
        self.writer.write(body)
        await self.writer.drain()

    async def send_json(self, status: int, obj: Any, extra: list | None = None) -> None:
        await self.send(status, json.dumps(obj).encode(), "application/json", extra)

    def sse_start(self, extra: list | None = None) -> None:
        self.head(
            200,
            [("content-type", "text/event-stream"), ("cache-control", "no-cache"), ("transfer-encoding", "chunked")]
            + (extra or []),
        )

    async def chunk(self, data: bytes) -> None:
        self.writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self.writer.drain()

    async def sse_event(self, message: Any) -> None:
        await self.chunk(b"event: message\ndata: " + json.dumps(message).encode() + b"\n\n")

    async def sse_end(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    def abort(self) -> None:
        self.writer.transport.abort()
        raise Dropped()


def result(rpc_id: Any, value: Any) -> dict:
    return {"jsonrpc": "2.0", "id": rpc_id, "result": value}


def tool_result(tool: str, mode: str, n: int) -> dict:
    return {"content": [{"type": "text", "text": f"{tool} ok on {mode} #{n}"}], "isError": False}


def progress(token: Any, done: int, total: int) -> dict:
    return {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": token, "progress": done, "total": total},
    }


async def handle(conn: Conn, req: Request) -> None:
    if req.path == "/__stats":
        await conn.send_json(200, STATS)
        return
    if req.path == "/__scope":
        SCOPE[req.query.get("mode", "")] = req.query.get("scope", "call")
        await conn.send_json(200, {"scope": SCOPE})
        return
    if not req.path.startswith("/mcp/"):
        await conn.send(404, b"not found", "text/plain")
        return
    # `/mcp/<mode>[/<label>]`: the label makes another server (own counters) of the same mode.
    name = req.path[len("/mcp/") :].strip("/") or "ok"
    mode = name.split("/")[0]
    stats = STATS[name]
    stats["requests"] += 1
    session = req.headers.get("mcp-session-id")
    if req.method == "GET":
        await conn.send(405, b"no standalone stream", "text/plain", [("allow", "POST, DELETE")])
        return
    if req.method == "DELETE":
        stats["delete"] += 1
        SESSIONS.discard(session or "")
        await conn.send(200)
        return
    if req.headers.get("mcp-protocol-version") == "2026-07-28":
        # Like a server of the handshake era: the modern protocol is refused as a whole.
        await conn.send_json(
            400,
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "Bad Request: Unsupported protocol version"}},
        )
        return
    try:
        msg = json.loads(req.body)
    except ValueError:
        await conn.send_json(400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
        return
    method = msg.get("method", "")
    rpc_id = msg.get("id")
    stats[method] += 1
    if method == "notifications/cancelled":
        stats["cancelled"] += 1
    if rpc_id is None:
        await conn.send(202)
        return
    if method != "initialize" and session is not None and session not in SESSIONS:
        stats["session_lost"] += 1
        await conn.send_json(
            404, {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": -32001, "message": "Session not found"}}
        )
        return
    if SCOPE.get(name) == "all" and method != "tools/call":
        await misbehave(conn, mode, name, req, msg, None, 0)
        return
    if method == "initialize":
        asked = (msg.get("params") or {}).get("protocolVersion")
        sid = uuid.uuid4().hex
        SESSIONS.add(sid)
        await conn.send_json(
            200,
            result(
                rpc_id,
                {
                    "protocolVersion": asked if asked in SUPPORTED else SUPPORTED[-1],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "mcp-edge-fault-server", "version": "1.0.0"},
                },
            ),
            [("mcp-session-id", sid)],
        )
    elif method == "ping":
        await conn.send_json(200, result(rpc_id, {}))
    elif method == "tools/list":
        await conn.send_json(200, result(rpc_id, {"tools": TOOLS}))
    elif method == "tools/call":
        tool = (msg.get("params") or {}).get("name", "")
        stats[f"tools/call:{tool}"] += 1
        await misbehave(conn, mode, name, req, msg, tool, stats[f"tools/call:{tool}"])
    else:
        await conn.send_json(
            200, {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": -32601, "message": f"Method not found: {method}"}}
        )


async def misbehave(
    conn: Conn, mode: str, name: str, req: Request, msg: dict, tool: str | None, n: int
) -> None:
    """Answers a tools/call (or, with scope=all, any request) the way `mode` says."""
    rpc_id = msg.get("id")
    params = msg.get("params") or {}
    token = (params.get("_meta") or {}).get("progressToken")
    args = params.get("arguments") or {}
    ok = result(rpc_id, tool_result(tool or "?", mode, n) if tool else {})
    if mode == "flaky":
        COUNTERS[name] += 1
        k = COUNTERS[name]
        mode = "html503" if k % 5 == 0 else "cut" if k % 7 == 3 else "ok"
        if mode == "ok":
            await asyncio.sleep(0.02)
    if mode == "hang":
        # Wait for the client to go away (EOF), at most two minutes.
        try:
            await asyncio.wait_for(conn.reader.read(1), 120)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        conn.abort()
    elif mode == "html500":
        await conn.send(500, HTML_500, "text/html; charset=utf-8")
    elif mode == "html503":
        await conn.send(503, HTML_500.replace(b"500 Internal Server Error", b"503 Service Unavailable"), "text/html")
    elif mode == "badjson":
        await conn.send(200, b'{"jsonrpc": "2.0", "id": ' + json.dumps(rpc_id).encode() + b', "result": {"content": [', "application/json")
    elif mode == "huge":
        filler = b"x" * HUGE_BYTES
        body = b'{"jsonrpc":"2.0","id":' + json.dumps(rpc_id).encode() + b',"result":{"content":[{"type":"text","text":"' + filler + b'"}]}}'
        await conn.send(200, body, "application/json")
    elif mode == "cut":
        conn.sse_start()
        await conn.sse_event(progress(token, 1, 2))
        # A chunk that promises more than it carries, then the connection is gone.
        partial = b'event: message\ndata: {"jsonrpc":"2.0","id":' + json.dumps(rpc_id).encode() + b',"res'
        conn.writer.write(f"{len(partial) + 100:x}\r\n".encode() + partial)
        await conn.writer.drain()
        await asyncio.sleep(0.05)
        conn.abort()
    elif mode == "slowsse":
        seconds = float(args.get("seconds", 2))
        conn.sse_start()
        steps = max(1, int(seconds / 0.5))
        for i in range(steps):
            await asyncio.sleep(seconds / steps)
            await conn.sse_event(progress(token, i + 1, steps))
        await conn.sse_event(ok)
        await conn.sse_end()
    elif mode == "expire":
        await conn.send_json(200, ok)
        SESSIONS.discard(req.headers.get("mcp-session-id") or "")
    elif mode == "ratelimit":
        if n % 2 == 1:
            retry_after = req.query.get("retry_after", "1")
            await conn.send(429, b"Too Many Requests: slow down", "text/plain", [("retry-after", retry_after)])
        else:
            await conn.send_json(200, ok)
    elif mode == "unavailable":
        if n <= int(req.query.get("fail", "2")):
            await conn.send(503, b"Service Unavailable: warming up", "text/plain")
        else:
            await conn.send_json(200, ok)
    elif mode == "origin_down":
        if n <= int(req.query.get("fail", "2")):
            page = b"<html><head><title>example.com | 521: Web server is down</title></head><body>Error 521</body></html>"
            await conn.send(521, page, "text/html; charset=UTF-8")
        else:
            await conn.send_json(200, ok)
    elif mode == "drop":
        conn.abort()
    else:
        await conn.send_json(200, ok)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    conn = Conn(reader, writer)
    try:
        while True:
            req = await read_request(reader)
            if req is None:
                break
            await handle(conn, req)
    except (Dropped, ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if not writer.transport.is_closing():
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = await asyncio.start_server(serve, "127.0.0.1", args.port, limit=1 << 20)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
