"""A real MCP server on the Python MCP SDK (PyPI `mcp` 2.x) for mcp-edge's tests.

Run with the repo's venv:

    .venv/bin/python tests/servers/py_server.py --transport streamable-http --port 8931
    .venv/bin/python tests/servers/py_server.py --transport sse --port 8932
    .venv/bin/python tests/servers/py_server.py --transport streamable-http --port 8933 \
        --json-response --page-size 3 --extra-tools 7

Endpoints: Streamable HTTP at `/mcp` (also speaks the 2026-07-28 stateless protocol to
requests that carry `MCP-Protocol-Version: 2026-07-28`, unless `--legacy-only`); legacy SSE at
`GET /sse` + `POST /messages/?session_id=…`. Binds 127.0.0.1 only.

Tools:
  echo(message)            -> the message as text
  add(a, b)                -> a + b (structuredContent {"result": a + b})
  sleep(seconds)           -> sleeps, then "slept"; `cancelled` records cancellations
  fail(message)            -> a tool error (isError: true) carrying the message
  weather(city)            -> structuredContent {city, temperature_c, conditions}
  progress(steps)          -> sends `steps` progress notifications, then "done"
  header(name)             -> the value of request header `name` ("" when absent)
  header_digest(name)      -> SHA-256 hex of that header's value ("" when absent): proves what
                              a credential header carried without the gateway's answer holding it
  interrupted()            -> with --resumable, closes its SSE reply stream mid-call, then
                              answers "resumed" (the client must resume with Last-Event-ID)
  cancelled()              -> how many `sleep`/`slow` calls were cancelled so far
  slow(seconds, tag)       -> only with --journal FILE (so other tests' tool counts stay): runs
                              `seconds` seconds, reporting progress (i of seconds, with a
                              message) and a log line every second, then "slow <tag> done"; it
                              appends `started <tag>`, `finished <tag>` or `cancelled <tag>` to
                              FILE (what the server saw, for the tests)
  filler_0 … filler_{N-1}  -> with --extra-tools N, to make listings long
With --page-size N, tools/list answers N tools per page and sets nextCursor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any, TypedDict

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp_types import ListToolsResult, PaginatedRequestParams

STATE: dict[str, Any] = {"cancelled": 0, "journal": None}


def journal(line: str) -> None:
    """Appends one line to --journal (flushed at once: a test reads it while we run)."""
    if STATE["journal"]:
        with open(STATE["journal"], "a", encoding="utf-8") as f:
            f.write(line + "\n")


class PagedServer(MCPServer):
    """MCPServer lists every tool in one page; this one pages when asked to."""

    page_size: int | None = None

    async def _handle_list_tools(self, ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        tools = await self.list_tools()
        if not self.page_size:
            return ListToolsResult(tools=tools)
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + self.page_size
        return ListToolsResult(tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None)


class MemoryEventStore(EventStore):
    """Keeps every SSE event so a client can resume a broken reply stream with Last-Event-ID."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(len(self.events) + 1)
        self.events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        index = next((i for i, e in enumerate(self.events) if e[1] == last_event_id), None)
        if index is None:
            return None
        stream_id = self.events[index][0]
        for sid, event_id, message in self.events[index + 1 :]:
            if sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


class Weather(TypedDict):
    city: str
    temperature_c: float
    conditions: str


def build(page_size: int | None, extra_tools: int, slow_tool: bool = False) -> PagedServer:
    server = PagedServer(name="mcp-edge-py-test-server", version="1.0.0")
    server.page_size = page_size

    @server.tool(description="Echoes the message back.")
    def echo(message: str) -> str:
        return message

    @server.tool(description="Adds two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Sleeps for the given number of seconds.")
    async def sleep(seconds: float) -> str:
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            STATE["cancelled"] += 1
            raise
        return "slept"

    @server.tool(description="Always fails with a tool error.")
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool(description="Structured weather for a city.")
    def weather(city: str) -> Weather:
        return {"city": city, "temperature_c": 21.5, "conditions": "sunny"}

    @server.tool(description="Reports progress, then answers.")
    async def progress(steps: int, ctx: Context) -> str:
        for i in range(steps):
            await ctx.report_progress(i + 1, steps)
            await anyio.sleep(0.01)
        return "done"

    @server.tool(description="Returns the value of one request header.")
    def header(name: str, ctx: Context) -> str:
        headers = ctx.headers or {}
        return headers.get(name.lower(), "")

    @server.tool(description="SHA-256 (hex) of one request header's value; '' when absent.")
    def header_digest(name: str, ctx: Context) -> str:
        headers = ctx.headers or {}
        value = headers.get(name.lower())
        return hashlib.sha256(value.encode()).hexdigest() if value is not None else ""

    @server.tool(description="Closes its reply stream mid-call (with --resumable), then answers.")
    async def interrupted(ctx: Context) -> str:
        await ctx.report_progress(1, 2)
        await ctx.close_sse_stream()
        await anyio.sleep(0.3)
        return "resumed"

    async def slow(seconds: int, tag: str, ctx: Context) -> str:
        journal(f"started {tag}")
        try:
            for i in range(seconds):
                await ctx.report_progress(i, seconds, f"step {i} of {seconds}")
                await ctx.info(f"{tag}: step {i}")
                await anyio.sleep(1)
            await ctx.report_progress(seconds, seconds, "done")
        except anyio.get_cancelled_exc_class():
            STATE["cancelled"] += 1
            journal(f"cancelled {tag}")
            raise
        journal(f"finished {tag}")
        return f"slow {tag} done"

    if slow_tool:
        server.tool(description="Runs for a while, reporting progress and a log line every second.")(slow)

    @server.tool(description="How many sleep calls were cancelled.")
    def cancelled() -> int:
        return STATE["cancelled"]

    for i in range(extra_tools):

        def filler(i: int = i) -> str:
            return f"filler {i}"

        server.tool(name=f"filler_{i}", description=f"Filler tool {i}.")(filler)

    return server


class LegacyOnly:
    """Answers 2026-07-28 requests like a pre-2026 server does: 400 with a JSON-RPC error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"mcp-protocol-version") == b"2026-07-28":
                body = json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": -32000, "message": "Bad Request: Unsupported protocol version"},
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["streamable-http", "sse"], default="streamable-http")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--json-response", action="store_true", help="answer with JSON bodies instead of SSE")
    parser.add_argument("--stateless", action="store_true", help="Streamable HTTP without sessions")
    parser.add_argument("--legacy-only", action="store_true", help="refuse 2026-07-28 requests (HTTP 400)")
    parser.add_argument(
        "--resumable", action="store_true", help="keep SSE events so broken reply streams can resume"
    )
    parser.add_argument("--page-size", type=int, default=None, help="tools per tools/list page")
    parser.add_argument("--extra-tools", type=int, default=0, help="register this many filler tools")
    parser.add_argument("--journal", default=None, help="file where `slow` records what it saw")
    args = parser.parse_args()
    STATE["journal"] = args.journal

    server = build(args.page_size, args.extra_tools, slow_tool=args.journal is not None)
    if args.transport == "sse":
        app = server.sse_app()
    else:
        resumable: dict[str, Any] = (
            {"event_store": MemoryEventStore(), "retry_interval": 100} if args.resumable else {}
        )
        app = server.streamable_http_app(
            json_response=args.json_response, stateless_http=args.stateless, **resumable
        )
    if args.legacy_only:
        app = LegacyOnly(app)

    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
