"""Lists and calls tools through an MCP endpoint with the official Python SDK client.

Usage: py_client.py URL TOKEN TOOL ARGUMENTS_JSON
Prints one JSON object: the negotiated protocol version, the listed tool names, the call's
result (or `error` when the SDK raised), and the progress notifications seen.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, token: str, tool: str, arguments: dict) -> None:
    out: dict = {"progress": []}

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        out["progress"].append(progress)

    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with client, streamable_http_client(url, http_client=client) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["protocolVersion"] = init.protocol_version
            out["serverName"] = init.server_info.name
            listed = await session.list_tools()
            out["tools"] = [t.name for t in listed.tools]
            try:
                result = await session.call_tool(tool, arguments, progress_callback=on_progress)
                out["result"] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            except Exception as exc:  # the SDK raises JSON-RPC errors
                out["error"] = str(exc)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
