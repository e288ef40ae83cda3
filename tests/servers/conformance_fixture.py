"""The fixture server for the MCP conformance suite's server scenarios (PyPI `mcp` 2.x).

The suite (`@modelcontextprotocol/conformance`, `conformance server`) calls tools by fixed
names; this server implements the ones its `tools-*` scenarios call, plus `logging/setLevel`,
and `test_elicitation_round` (the same question through the SDK's resolver, which a
2026-07-28 client gets as an `input_required` round; `tests/tests/mcp_endpoint.rs`).
`tests/tests/mcp_conformance.rs` runs the suite against it directly and through the gateway's
`/mcp/servers/<name>`, side by side.

    .venv/bin/python tests/servers/conformance_fixture.py --port 8940   # Streamable HTTP at /mcp

Binds 127.0.0.1 only; DNS-rebinding protection on (only loopback Host/Origin accepted).
"""

from __future__ import annotations

import argparse
import base64
from typing import Annotated

import mcp_types as types
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

# A 1x1 PNG and a tiny WAV header: real, decodable media of the declared types.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
WAV = base64.b64encode(
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00\x88X\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
).decode()


def resource() -> types.EmbeddedResource:
    return types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="An embedded text resource."
        ),
    )


class UserInfo(BaseModel):
    username: str = "conformance"
    email: str = "conformance@example.com"


def ask_user(message: str) -> Elicit[UserInfo]:
    """The resolver of `test_elicitation_round` (module level: annotations are evaluated here)."""
    return Elicit(message, UserInfo)


def build() -> MCPServer:
    server = MCPServer(name="conformance-fixture")

    @server.tool(description="Answers a plain text.")
    def test_simple_text() -> str:
        return "This is a simple text response for testing."

    @server.tool(description="Answers an image.")
    def test_image_content() -> list[types.ImageContent]:
        return [types.ImageContent(type="image", data=PNG, mime_type="image/png")]

    @server.tool(description="Answers audio.")
    def test_audio_content() -> list[types.AudioContent]:
        return [types.AudioContent(type="audio", data=WAV, mime_type="audio/wav")]

    @server.tool(description="Answers an embedded resource.")
    def test_embedded_resource() -> list[types.EmbeddedResource]:
        return [resource()]

    @server.tool(description="Answers text, an image and a resource.")
    def test_multiple_content_types() -> list[types.TextContent | types.ImageContent | types.EmbeddedResource]:
        return [
            types.TextContent(type="text", text="Mixed content: text, image, resource."),
            types.ImageContent(type="image", data=PNG, mime_type="image/png"),
            resource(),
        ]

    @server.tool(description="Logs three messages while it runs.")
    async def test_tool_with_logging(ctx: Context) -> str:
        await ctx.info("Tool execution started")
        await ctx.info("Tool processing data")
        await ctx.info("Tool execution completed")
        return "Logged three messages."

    @server.tool(description="Always fails with a tool error.")
    def test_error_handling() -> str:
        raise ToolError("This tool intentionally returns an error for testing")

    @server.tool(description="Reports progress 0, 50, 100.")
    async def test_tool_with_progress(ctx: Context) -> str:
        for step in (0, 50, 100):
            await ctx.report_progress(step, 100, f"step {step}")
        return "Progress reported."

    @server.tool(description="Asks the client's model (sampling).")
    async def test_sampling(prompt: str, ctx: Context) -> str:
        # The request is tied to this call (`related_request_id`), so the SDK sends it on the
        # call's own POST stream, as the transport says a request related to a client request
        # should go (2025-06-18 and 2025-11-25, "Sending Messages to the Server"; the
        # standalone GET stream is for messages unrelated to any running request). Without it
        # the SDK puts it on the session's standalone stream, or drops it when none is open:
        # `ctx.elicit` and `ctx.report_progress` pass the related request themselves.
        answer = await ctx.session.create_message(
            messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_id,
        )
        content = answer.content
        text = getattr(content, "text", None) or str(content)
        return f"LLM response: {text}"

    @server.tool(description="Asks the user (elicitation).")
    async def test_elicitation(message: str, ctx: Context) -> str:
        result = await ctx.elicit(message, UserInfo)
        return f"User response: {result.action} {getattr(result, 'data', None)}"

    @server.tool(description="Asks the user through a resolver: an input_required round in 2026-07-28.")
    async def test_elicitation_round(
        message: str, answer: Annotated[ElicitationResult[UserInfo], Resolve(ask_user)]
    ) -> str:
        return f"User response: {answer.action} {getattr(answer, 'data', None)}"

    async def set_level(ctx: object, params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    server._lowlevel_server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = build().streamable_http_app()

    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
