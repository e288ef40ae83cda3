// Lists and calls tools through an MCP endpoint with the official TypeScript SDK client.
// Usage: node ts_client.mjs URL TOKEN CALLS_JSON
// CALLS_JSON is a list of calls made in order on one session:
//   {"tool": NAME, "arguments": {...}, "progress": true?, "answer": {...}?}
// - `progress`: the call passes an `onprogress` handler (so it carries a `progressToken`).
// - `answer`: the client declares elicitation, and its handler accepts any `elicitation/create`
//   during this call with this content (without it, the handler declines).
// Prints one JSON object: the negotiated protocol version, the server's name, the listed tool
// names, and per call its result (or `error` when the SDK threw), the progress values its
// handler saw and the messages of the elicitations its handler answered.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, token, callsJson] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client(
  { name: "mcp-edge-test", version: "1.0.0" },
  { capabilities: { elicitation: {} } },
);
let current = null;
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  current.elicited.push(request.params.message);
  if (current.answer === undefined) return { action: "decline" };
  return { action: "accept", content: current.answer };
});
const out = { calls: [] };
await client.connect(transport);
out.protocolVersion = transport.protocolVersion;
out.serverName = client.getServerVersion()?.name;
const listed = await client.listTools();
out.tools = listed.tools.map((t) => t.name);
for (const call of JSON.parse(callsJson)) {
  current = { progress: [], elicited: [], answer: call.answer };
  const seen = {};
  const options = call.progress ? { onprogress: (p) => current.progress.push(p.progress) } : {};
  try {
    seen.result = await client.callTool(
      { name: call.tool, arguments: call.arguments ?? {} },
      undefined,
      options,
    );
  } catch (e) {
    seen.error = String(e);
  }
  seen.progress = current.progress;
  seen.elicited = current.elicited;
  out.calls.push(seen);
}
await client.close();
console.log(JSON.stringify(out));
