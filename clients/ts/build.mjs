// Bundles the client for browsers with esbuild (wrangler's, in the root node_modules):
// build/mcp-edge.js (an ES module) and build/mcp-edge.iife.js (a script defining the global
// `McpEdge`). Types are checked separately (`tsc -p clients/ts`).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const common = {
  entryPoints: [`${here}src/index.ts`],
  bundle: true,
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  logLevel: "warning",
};
await build({ ...common, format: "esm", outfile: `${here}build/mcp-edge.js` });
await build({ ...common, format: "iife", globalName: "McpEdge", outfile: `${here}build/mcp-edge.iife.js` });
console.log("clients/ts/build/mcp-edge.js, clients/ts/build/mcp-edge.iife.js");
