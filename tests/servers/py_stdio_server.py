"""A stdio MCP server on the Python MCP SDK (PyPI `mcp` 2.x) for the stdio bridge's tests.

Run with the repo's venv (it speaks newline-delimited JSON-RPC on stdin/stdout):

    .venv/bin/python tests/servers/py_stdio_server.py

Tools:
  echo(message)              -> the message
  add(a, b)                  -> a + b
  echo_after(message, delay) -> the message, after `delay` seconds (to make replies overtake)
  sleep(seconds)             -> sleeps, then "slept"; `cancelled` counts cancellations
  cancelled()                -> how many `sleep` calls were cancelled so far
  progress(steps)            -> `steps` progress notifications, then "done"
  pid()                      -> this process's pid
  env(name)                  -> the value of env var `name` ("" when unset)
  big(size)                  -> a text of `size` bytes
  crash(code, stderr_env)    -> writes a line (and the value of env var `stderr_env`, if given)
                                to stderr, then exits at once with `code`
  spawn_grandchild()         -> starts `sleep 300` in this process group, returns its pid
"""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer

STATE = {"cancelled": 0}

server = MCPServer(name="mcp-edge-py-stdio-test-server", version="1.0.0")


@server.tool(description="Echoes the message back.")
def echo(message: str) -> str:
    return message


@server.tool(description="Adds two integers.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Echoes the message after a delay.")
async def echo_after(message: str, delay: float) -> str:
    await anyio.sleep(delay)
    return message


@server.tool(description="Sleeps for the given number of seconds.")
async def sleep(seconds: float) -> str:
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        STATE["cancelled"] += 1
        raise
    return "slept"


@server.tool(description="How many sleep calls were cancelled.")
def cancelled() -> int:
    return STATE["cancelled"]


@server.tool(description="Reports progress, then answers.")
async def progress(steps: int, ctx: Context) -> str:
    for i in range(steps):
        await ctx.report_progress(i + 1, steps)
        await anyio.sleep(0.01)
    return "done"


@server.tool(description="This process's pid.")
def pid() -> int:
    return os.getpid()


@server.tool(description="The value of an environment variable.")
def env(name: str) -> str:
    return os.environ.get(name, "")


@server.tool(description="A text of the given size in bytes.")
def big(size: int) -> str:
    return "x" * size


@server.tool(description="Writes to stderr, then exits at once.")
def crash(code: int = 3, stderr_env: str = "") -> str:
    sys.stderr.write("py_stdio_server: crashing on purpose\n")
    if stderr_env:
        sys.stderr.write(f"py_stdio_server: {stderr_env}={os.environ.get(stderr_env, '')}\n")
    sys.stderr.flush()
    os._exit(code)


@server.tool(description="Starts a long sleep in this process group; returns its pid.")
def spawn_grandchild() -> int:
    proc = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return proc.pid


if __name__ == "__main__":
    server.run(transport="stdio")
