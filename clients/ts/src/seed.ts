/**
 * A drop-in for the seed PWA's `MCPClientService`: the same method names, now backed by
 * `McpEdgeClient`. Its invariants are the seed's: `executeTool` never throws (a failure is
 * `{success: false, error}` with a sentence a model can read, never `undefined`), and the
 * listing methods answer arrays. `getAllTools` asks once (`list_tools` without `server_id`)
 * instead of once per server. A tool an admin marked `long_running` starts in the background
 * (202): `executeTool` then watches its execution to the final event and answers that.
 */
import { McpEdgeClient, type ClientOptions } from "./client.ts";
import { McpEdgeError } from "./errors.ts";
import type { BackgroundStarted, ExecutionEvent, ServerSummary, SyncToolsAnswer, Tool } from "./types.ts";

/** What the seed's `executeTool` answers. */
export interface ToolExecution {
  success: boolean;
  result?: unknown;
  error?: string;
  execution_id?: string;
  duration_ms?: number;
  /** Set on a failure the API described: its code and the request id to quote. */
  code?: string;
  request_id?: string;
}

export class MCPClientService {
  readonly client: McpEdgeClient;

  constructor(client: McpEdgeClient | ClientOptions) {
    this.client = client instanceof McpEdgeClient ? client : new McpEdgeClient(client);
  }

  async getServers(): Promise<ServerSummary[]> {
    return (await this.client.listServers()).servers;
  }

  async getServerTools(serverId: string): Promise<Tool[]> {
    return (await this.client.listTools({ serverId })).tools;
  }

  /** Every tool of every active server of the team, in one request. */
  async getAllTools(): Promise<Tool[]> {
    return (await this.client.listTools()).tools;
  }

  async executeTool(
    serverId: string,
    toolName: string,
    parameters: Record<string, unknown> = {},
  ): Promise<ToolExecution> {
    try {
      const answer = await this.client.callTool(serverId, toolName, parameters);
      if ("confirmation_required" in answer) {
        return { success: false, error: answer.error, result: answer };
      }
      if ("watch" in answer) return await this.awaitBackground(answer);
      return {
        success: answer.success,
        result: answer.result,
        error: answer.success ? undefined : (answer.error ?? "the tool reported an error"),
        execution_id: answer.execution_id,
        duration_ms: answer.duration_ms,
      };
    } catch (err) {
      if (err instanceof McpEdgeError) {
        return { success: false, error: err.message, code: err.code, request_id: err.request_id };
      }
      return { success: false, error: String(err) };
    }
  }

  private async awaitBackground(started: BackgroundStarted): Promise<ToolExecution> {
    let last: ExecutionEvent | undefined;
    for await (const event of this.client.watchExecution(started.execution_id)) last = event;
    const execution_id = started.execution_id;
    switch (last?.kind) {
      case "result":
        return {
          success: last.data.success,
          result: last.data.result,
          error: last.data.success ? undefined : toolErrorText(last.data.result),
          execution_id,
          duration_ms: last.data.duration_ms,
        };
      case "error":
        return {
          success: false,
          error: last.data.message,
          code: last.data.code,
          execution_id,
          duration_ms: last.data.duration_ms,
        };
      case "cancelled":
        return { success: false, error: last.data.message, execution_id };
      default:
        return { success: false, error: "the execution ended without a final event", execution_id };
    }
  }

  syncTools(serverId?: string): Promise<SyncToolsAnswer> {
    return this.client.syncTools(serverId);
  }

  /** The tools as text for a model's system prompt: one line per tool. */
  getToolContext(tools: Tool[]): string {
    return tools
      .map((t) => `- ${t.tool_name} (server ${t.server_id}): ${t.description ?? ""}`.trimEnd())
      .join("\n");
  }
}

/** The text a tool's error result says (its first text content), for `error`. */
function toolErrorText(result: unknown): string {
  const content = (result as { content?: { type?: string; text?: string }[] } | null)?.content;
  const text = Array.isArray(content) ? content.find((c) => c?.type === "text")?.text : undefined;
  return text || "the tool reported an error";
}
