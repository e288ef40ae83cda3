// Drives the TypeScript client in headless Chromium (Debian's, through playwright-core):
// bundles clients/ts, serves the test page on 127.0.0.1:$PAGE_PORT (an origin of its own, not
// the gateway's), opens it, waits for the page's results and prints them as one JSON line.
//
// Environment: GATEWAY (the gateway's base URL), TOKEN (the bearer JWT), PAGE_PORT,
// SERVER_NAME (the registered server whose echo tool is called), SCENARIOS (comma list of
// tests/browser/scenarios.js's scenarios), TRACEPARENT (optional, sent with every request),
// CHROMIUM (default /usr/bin/chromium), WATCH_SECONDS (how long the watched background call
// runs, default 1).
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
await import(`${here}../../clients/ts/build.mjs`);

const config = {
  gateway: env("GATEWAY"),
  token: env("TOKEN"),
  serverName: env("SERVER_NAME"),
  scenarios: env("SCENARIOS").split(","),
  traceparent: process.env.TRACEPARENT || undefined,
  watchSeconds: Number(process.env.WATCH_SECONDS || "1"),
};
const files = {
  "/": ["text/html", readFileSync(`${here}page.html`, "utf8").replace("__CONFIG__", JSON.stringify(config))],
  "/scenarios.js": ["text/javascript", readFileSync(`${here}scenarios.js`)],
  "/mcp-edge.js": ["text/javascript", readFileSync(`${here}../../clients/ts/build/mcp-edge.js`)],
};
const page = createServer((req, res) => {
  const file = files[new URL(req.url, "http://x").pathname];
  if (!file) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": file[0] }).end(file[1]);
});
await new Promise((resolve) => page.listen(Number(env("PAGE_PORT")), "127.0.0.1", resolve));

// The flags this machine needs (no network beyond loopback, no sandbox as root); playwright
// gives the browser a new empty profile directory of its own.
const profile = mkdtempSync(join(tmpdir(), "mcp-edge-chromium-"));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  env: { ...process.env, HOME: profile },
});
const console_lines = [];
try {
  const tab = await browser.newPage();
  tab.on("console", (m) => console_lines.push(`${m.type()}: ${m.text()}`));
  tab.on("pageerror", (e) => console_lines.push(`pageerror: ${e.message}`));
  await tab.goto(`http://127.0.0.1:${env("PAGE_PORT")}/`);
  await tab.waitForFunction(() => window.__results !== undefined, null, {
    timeout: 90_000 + config.watchSeconds * 1000,
  });
  const results = await tab.evaluate(() => window.__results);
  results.browser = browser.version();
  results.console = console_lines;
  console.log(JSON.stringify(results));
} catch (err) {
  console.error(`browser test page failed: ${err}\n${console_lines.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  page.close();
  rmSync(profile, { recursive: true, force: true });
}
