// McpEdgeClient against a local HTTP peer that answers as the API documents: typed errors
// with code/status/request_id, rate-limit headers, the request's headers, and a watch stream
// that drops midway and is resumed with Last-Event-ID without losing or repeating an event.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpEdgeClient, McpEdgeError, MCPClientService } from "../src/index.ts";

type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void;

async function withPeer(handler: Handler, run: (base: string) => Promise<void>): Promise<void> {
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => handler(JSON.parse(raw || "{}"), req, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    await run(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { "content-type": "application/json", "x-request-id": "rid-1", ...headers });
  res.end(JSON.stringify(body));
}

test("an error answer is thrown as McpEdgeError with code, status, request_id and rate limit", async () => {
  await withPeer(
    (_body, _req, res) =>
      json(
        res,
        429,
        {
          status: "error",
          code: "rate_limit",
          message: "slow down",
          error: "slow down",
          details: { retry_after_seconds: 7 },
          request_id: "rid-1",
        },
        { "ratelimit-limit": "60", "ratelimit-remaining": "0", "ratelimit-reset": "7", "retry-after": "7" },
      ),
    async (base) => {
      const client = new McpEdgeClient({ baseUrl: base, token: "t" });
      const err = await client.listServers().then(
        () => assert.fail("no throw"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpEdgeError);
      assert.equal(err.code, "rate_limit");
      assert.equal(err.status, 429);
      assert.equal(err.request_id, "rid-1");
      assert.equal(err.message, "slow down");
      assert.deepEqual(err.details, { retry_after_seconds: 7 });
      assert.deepEqual(err.rateLimit, { limit: 60, remaining: 0, reset: 7, policy: undefined, retryAfter: 7 });
    },
  );
});

test("requests carry the bearer token, team and traceparent; answers fill lastResponse", async () => {
  const seen: IncomingMessage["headers"][] = [];
  await withPeer(
    (body, req, res) => {
      seen.push(req.headers);
      assert.deepEqual(body, { action: "list_tools", server_id: "s1", format: "openai" });
      json(res, 200, { tools: [] }, { "ratelimit-remaining": "9", "server-timing": "auth;dur=1" });
    },
    async (base) => {
      const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const client = new McpEdgeClient({
        baseUrl: `${base}/`,
        path: "/functions/v1/mcp-client",
        token: async () => "jwt-1",
        teamId: "team-a",
        traceparent: () => tp,
      });
      await client.listTools({ serverId: "s1", format: "openai" });
      assert.equal(seen[0].authorization, "Bearer jwt-1");
      assert.equal(seen[0]["x-team-id"], "team-a");
      assert.equal(seen[0].traceparent, tp);
      assert.deepEqual(client.lastResponse, {
        status: 200,
        request_id: "rid-1",
        rateLimit: { limit: undefined, remaining: 9, reset: undefined, policy: undefined, retryAfter: undefined },
        serverTiming: "auth;dur=1",
      });
    },
  );
});

test("watchExecution resumes a dropped stream from Last-Event-ID and ends at the final event", async () => {
  const events = [
    "id: 1\nevent: progress\ndata: {\"progress\":1}\n\n",
    "id: 2\nevent: progress\ndata: {\"progress\":2}\n\n",
    "id: 3\nevent: log\ndata: {\"level\":\"info\",\"data\":\"half way\"}\n\n",
    "id: 4\nevent: result\ndata: {\"status\":\"success\",\"success\":true}\n\n",
  ];
  const lastIds: (string | undefined)[] = [];
  await withPeer(
    (body, req, res) => {
      assert.equal(body.action, "watch_execution");
      assert.equal(body.execution_id, "ex-1");
      const last = req.headers["last-event-id"] as string | undefined;
      lastIds.push(last);
      res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "rid-w" });
      const from = last === undefined ? 0 : Number(last);
      if (lastIds.length === 1) {
        // The first connection drops after two events and half of the third.
        res.write("retry: 10\n" + events[0] + events[1] + events[2].slice(0, 9), () =>
          res.socket?.destroy(),
        );
        return;
      }
      res.end(events.slice(from).join("") + "id: 5\nevent: progress\ndata: after the end\n\n");
    },
    async (base) => {
      const client = new McpEdgeClient({ baseUrl: base, token: "t" });
      const got = [];
      for await (const e of client.watchExecution("ex-1")) got.push(e);
      assert.deepEqual(lastIds, [undefined, "2"]);
      assert.deepEqual(
        got.map((e) => [e.id, e.kind, e.data]),
        [
          [1, "progress", { progress: 1 }],
          [2, "progress", { progress: 2 }],
          [3, "log", { level: "info", data: "half way" }],
          [4, "result", { status: "success", success: true }],
        ],
      );
    },
  );
});

test("a cancelled execution's stream ends the watch at its cancelled event, without reconnecting", async () => {
  let connections = 0;
  await withPeer(
    (_body, _req, res) => {
      connections++;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(
        "id: 1\nevent: progress\ndata: {\"progress\":1,\"total\":20}\n\n" +
          "id: 2\nevent: cancelled\ndata: {\"status\":\"cancelled\",\"message\":\"cancelled by bob\",\"duration_ms\":40}\n\n",
      );
    },
    async (base) => {
      const client = new McpEdgeClient({ baseUrl: base, token: "t" });
      const got = [];
      for await (const e of client.watchExecution("ex-2", { lastEventId: 0 })) got.push(e);
      assert.equal(connections, 1);
      assert.deepEqual(
        got.map((e) => [e.id, e.kind]),
        [
          [1, "progress"],
          [2, "cancelled"],
        ],
      );
    },
  );
});

test("the seed adapter's executeTool of a long-running tool (202) answers its execution's result", async () => {
  await withPeer(
    (body, _req, res) => {
      if (body.action === "call_tool") {
        assert.equal(body.mode, undefined, "the seed's body is unchanged");
        json(res, 202, {
          success: true,
          execution_id: "ex-3",
          status: "running",
          mode: "async",
          timeout_seconds: 300,
          watch: {},
        });
        return;
      }
      assert.deepEqual(body, { action: "watch_execution", execution_id: "ex-3" });
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(
        "id: 1\nevent: result\ndata: " +
          JSON.stringify({
            status: "error",
            success: false,
            result: { content: [{ type: "text", text: "disk full" }], isError: true },
            duration_ms: 12,
          }) +
          "\n\n",
      );
    },
    async (base) => {
      const seed = new MCPClientService({ baseUrl: base, token: "t" });
      const answer = await seed.executeTool("s", "slow", {});
      assert.equal(answer.success, false);
      assert.equal(answer.error, "disk full");
      assert.equal(answer.execution_id, "ex-3");
      assert.equal(answer.duration_ms, 12);
    },
  );
});

test("the seed adapter's executeTool never throws and always says why in error", async () => {
  await withPeer(
    (body, _req, res) => {
      if (body.tool_name === "fails") {
        json(res, 200, { success: false, result: { isError: true }, error: "bad input", execution_id: "e1", cached: false });
      } else {
        json(res, 404, { status: "error", code: "not_found", message: "no such tool", error: "no such tool", details: {}, request_id: "rid-9" });
      }
    },
    async (base) => {
      const seed = new MCPClientService({ baseUrl: base, token: "t" });
      assert.deepEqual(await seed.executeTool("s", "fails", {}), {
        success: false,
        result: { isError: true },
        error: "bad input",
        execution_id: "e1",
        duration_ms: undefined,
      });
      const missing = await seed.executeTool("s", "missing", {});
      assert.equal(missing.success, false);
      assert.equal(missing.error, "no such tool");
      assert.equal(missing.code, "not_found");
      assert.equal(missing.request_id, "rid-9");
    },
  );
});

test("no answer at all is a network_error with status 0", async () => {
  const client = new McpEdgeClient({ baseUrl: "http://127.0.0.1:9", token: "t" });
  await assert.rejects(client.listServers(), (e: unknown) => {
    assert.ok(e instanceof McpEdgeError);
    assert.equal(e.code, "network_error");
    assert.equal(e.status, 0);
    return true;
  });
});
