"""Lists and calls tools through an MCP endpoint with the official Python SDK client.

Usage: py_client.py URL TOKEN CALLS_JSON
CALLS_JSON is a list of calls made in order on one session:
  {"tool": NAME, "arguments": {...}, "progress": true?, "answer": {...}?}
- `progress`: the call passes a progress callback (so it carries a `progressToken`).
- `answer`: the client declares elicitation, and its handler accepts any `elicitation/create`
  during this call with this content (without it, the handler declines).
Prints one JSON object: the negotiated protocol version, the server's name, the listed tool
names, and per call its result (or `error` when the SDK raised), the progress values its
callback saw and the messages of the elicitations its handler answered.
"""

import asyncio
import json
import sys

import mcp_types as types
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, token: str, calls: list[dict]) -> None:
    out: dict = {"calls": []}
    current: dict = {}

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        current["progress"].append(progress)

    async def on_elicit(context: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        current["elicited"].append(params.message)
        answer = current.get("answer")
        if answer is None:
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content=answer)

    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with client, streamable_http_client(url, http_client=client) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write, elicitation_callback=on_elicit) as session:
            init = await session.initialize()
            out["protocolVersion"] = init.protocol_version
            out["serverName"] = init.server_info.name
            listed = await session.list_tools()
            out["tools"] = [t.name for t in listed.tools]
            for call in calls:
                current.clear()
                current.update(progress=[], elicited=[], answer=call.get("answer"))
                seen: dict = {}
                callback = on_progress if call.get("progress") else None
                try:
                    result = await session.call_tool(call["tool"], call.get("arguments", {}), progress_callback=callback)
                    seen["result"] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
                except Exception as exc:  # the SDK raises JSON-RPC errors
                    seen["error"] = str(exc)
                seen["progress"] = current["progress"]
                seen["elicited"] = current["elicited"]
                out["calls"].append(seen)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
