// The browser test's scenarios, run by the page in order with the bundled client
// (/mcp-edge.js, clients/ts). Each scenario's result (or the exception it threw, described)
// lands in window.__results for the driver to read. `list_tools_format`, `watch_execution` and
// `cancel_execution` use the model-format and background-execution APIs (the last two call
// server-everything's `trigger-long-running-operation`, `config.watchSeconds` long).
import { McpEdgeClient, McpEdgeError, MCPClientService } from "/mcp-edge.js";

const config = JSON.parse(document.getElementById("config").textContent);
// Every request carries the page's W3C trace context (the preflight must allow it).
const api = new McpEdgeClient({
  baseUrl: config.gateway,
  token: () => config.token,
  traceparent: () => config.traceparent,
});
let serverId;

function describe(err) {
  return err instanceof McpEdgeError
    ? {
        mcp_edge_error: true,
        name: err.name,
        code: err.code,
        status: err.status,
        request_id: err.request_id,
        message: err.message,
        details: err.details,
      }
    : { mcp_edge_error: false, message: String(err) };
}

async function server() {
  if (serverId === undefined) {
    const { servers } = await api.listServers();
    serverId = servers.find((s) => s.name === config.serverName)?.id;
  }
  return serverId;
}

const scenarios = {
  async list_servers() {
    const answer = await api.listServers();
    return {
      names: answer.servers.map((s) => s.name),
      request_id: api.lastResponse.request_id,
      rate_limit: api.lastResponse.rateLimit ?? null,
    };
  },
  async list_tools() {
    const one = await api.listTools({ serverId: await server() });
    const all = await api.listTools();
    return { names: one.tools.map((t) => t.tool_name), all_count: all.tools.length };
  },
  async call_tool() {
    const answer = await api.callTool(await server(), "echo", { message: "hello from chromium" });
    return {
      success: answer.success,
      text: answer.result?.content?.[0]?.text ?? null,
      execution_id: answer.execution_id,
      request_id: api.lastResponse.request_id,
    };
  },
  async failing_call() {
    // echo requires `message`: the gateway answers 400 validation_error.
    await api.callTool(await server(), "echo", {});
    return { thrown: null };
  },
  async seed_adapter() {
    const seed = new MCPClientService(api);
    const servers = await seed.getServers();
    const tools = await seed.getServerTools(await server());
    const executed = await seed.executeTool(await server(), "echo", { message: "seed" });
    const missing = await seed.executeTool(await server(), "no_such_tool", {});
    return {
      servers: servers.length,
      tools: tools.length,
      executed: { success: executed.success, execution_id: executed.execution_id ?? null },
      missing,
    };
  },
  async list_tools_format() {
    // OpenAI's shape: every name is the function's name, and `mapping` leads back to a call.
    const answer = await api.listTools({ format: "openai" });
    return {
      format: answer.format,
      types: [...new Set(answer.tools.map((t) => t.type))],
      names: answer.tools.map((t) => t.function?.name ?? null),
      parameter_roots: [...new Set(answer.tools.map((t) => t.function?.parameters?.type ?? null))],
      mapping: answer.mapping,
      server_id: await server(),
    };
  },
  async watch_execution() {
    // server-everything's long-running tool reports progress at each step.
    const started = await api.callToolAsync(await server(), "trigger-long-running-operation", {
      duration: config.watchSeconds,
      steps: 2,
    });
    const started_status = api.lastResponse.status;
    const events = [];
    for await (const event of api.watchExecution(started.execution_id)) events.push(event);
    // Resumed after the first event: the `Last-Event-ID` header crosses origins (preflight).
    const resumed = [];
    for await (const event of api.watchExecution(started.execution_id, { lastEventId: 1 })) {
      resumed.push(event.id);
    }
    const polled = await api.getExecution(started.execution_id);
    return {
      started_status,
      started,
      events,
      resumed,
      polled: { id: polled.execution.id, status: polled.execution.status },
    };
  },
  async cancel_execution() {
    // Cancelled at its first progress event; the watch then ends at the `cancelled` event.
    const started = await api.callToolAsync(await server(), "trigger-long-running-operation", {
      duration: 60,
      steps: 60,
    });
    const events = [];
    let cancelled;
    for await (const event of api.watchExecution(started.execution_id)) {
      events.push(event);
      if (event.kind === "progress" && cancelled === undefined) {
        cancelled = await api.cancelExecution(started.execution_id);
      }
    }
    let again;
    try {
      await api.cancelExecution(started.execution_id);
      again = { thrown: null };
    } catch (err) {
      again = { thrown: describe(err) };
    }
    return { execution_id: started.execution_id, cancelled, events, again };
  },
};

const results = { page_origin: location.origin };
for (const name of config.scenarios) {
  try {
    results[name] = await scenarios[name]();
  } catch (err) {
    results[name] = { thrown: describe(err) };
  }
}
document.getElementById("out").textContent = JSON.stringify(results, null, 2);
window.__results = results;
