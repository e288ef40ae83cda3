// Baseline for scripts/bench-mcp-client.sh: the official TypeScript MCP SDK client
// (`@modelcontextprotocol/sdk`, installed with server-everything), over Streamable HTTP.
//
//   node tests/bench/sdk_client.mjs <url> <n> [--server-log FILE --log-pattern TEXT]
//
// One Client, one cold `echo` call, then n sequential warm `echo` calls, timed one by one.
// Prints one key=value line in the format of shared/examples/bench_client.rs. Loopback only.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, nText, ...rest] = process.argv.slice(2);
const n = Number(nText);
if (!url || !Number.isInteger(n) || n < 1 || n > 100000) {
  console.error("usage: sdk_client.mjs <url> <n> [--server-log FILE --log-pattern TEXT]");
  process.exit(2);
}
const opt = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const log = opt("--server-log");
const pattern = opt("--log-pattern");
const count = () =>
  log && pattern
    ? readFileSync(log, "utf8").split("\n").filter((l) => l.includes(pattern)).length
    : undefined;
const pct = (sorted, q) => sorted[Math.min(Math.max(Math.ceil(q * sorted.length), 1), sorted.length) - 1];

const client = new Client({ name: "bench-ts-sdk", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
await client.callTool({ name: "echo", arguments: { message: "bench 0" } });
const before = count();
const times = [];
const start = performance.now();
for (let i = 1; i <= n; i++) {
  const t = performance.now();
  const r = await client.callTool({ name: "echo", arguments: { message: `bench ${i}` } }, undefined, {
    timeout: 10000,
  });
  times.push(performance.now() - t);
  if (r.isError) throw new Error(`call ${i} failed: ${JSON.stringify(r)}`);
}
const total = (performance.now() - start) / 1000;
const after = count();
await client.close();
times.sort((a, b) => a - b);
const server = before === undefined ? "n/a" : ((after - before) / n).toFixed(3);
console.log(
  `client=ts-sdk n=${n} cold_requests=n/a warm_requests_per_call_client=n/a ` +
    `warm_requests_per_call_server=${server} p50_ms=${pct(times, 0.5).toFixed(3)} ` +
    `p95_ms=${pct(times, 0.95).toFixed(3)} p99_ms=${pct(times, 0.99).toFixed(3)} ` +
    `calls_per_s=${(n / total).toFixed(1)}`,
);
