// Holds /mcp's standalone stream with the official TypeScript SDK client and waits for the
// catalogue to change.
// Usage: node ts_listen.mjs URL TOKEN
// Prints `listening` once the SDK's standalone GET stream is open (its response arrived), then,
// at the first `notifications/tools/list_changed`, one JSON object: the tool names listed
// before and after (the re-list the notification prompts). Gives up after 60 s (exit 1).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, token] = process.argv.slice(2);
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "no list_changed within 60 s" }));
  process.exit(1);
}, 60_000);
// The SDK opens the standalone stream itself after `initialize`; this fetch says when.
const watched = async (input, init) => {
  const response = await fetch(input, init);
  if ((init?.method ?? "GET") === "GET" && response.ok) console.log("listening");
  return response;
};
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
  fetch: watched,
});
const client = new Client({ name: "mcp-edge-listen", version: "1.0.0" });
const out = {};
const changed = new Promise((resolve) =>
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
);
await client.connect(transport);
out.listChanged = client.getServerCapabilities()?.tools?.listChanged;
out.before = (await client.listTools()).tools.map((t) => t.name);
await changed;
out.after = (await client.listTools()).tools.map((t) => t.name);
clearTimeout(timer);
await client.close();
console.log(JSON.stringify(out));
