// Lists and calls tools through an MCP endpoint with the official TypeScript SDK client.
// Usage: node ts_client.mjs URL TOKEN TOOL ARGUMENTS_JSON
// Prints one JSON object: the negotiated protocol version, the listed tool names, the call's
// result (or `error` when the SDK threw).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, tool, args] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "mcp-edge-test", version: "1.0.0" });
const out = {};
await client.connect(transport);
out.protocolVersion = transport.protocolVersion;
out.serverName = client.getServerVersion()?.name;
const listed = await client.listTools();
out.tools = listed.tools.map((t) => t.name);
try {
  out.result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
} catch (e) {
  out.error = String(e);
}
await client.close();
console.log(JSON.stringify(out));
