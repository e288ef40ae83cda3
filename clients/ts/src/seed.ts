/**
 * A drop-in for the seed PWA's `MCPClientService`: the same method names, now backed by
 * `McpEdgeClient`. Its invariants are the seed's: `executeTool` never throws (a failure is
 * `{success: false, error}` with a sentence a model can read, never `undefined`), and the
 * listing methods answer arrays. `getAllTools` asks once (`list_tools` without `server_id`)
 * instead of once per server.
 */
import { McpEdgeClient, type ClientOptions } from "./client.ts";
import { McpEdgeError } from "./errors.ts";
import type { AnswerOf, ServerSummary, SyncToolsAnswer, Tool } from "./types.ts";

/** The tools of a `list_tools` answer; the seed client never asks for a `format`. */
function toolsOf(answer: AnswerOf<"list_tools">): Tool[] {
  if ("format" in answer) {
    throw new Error("list_tools answered a formatted list, which the seed client did not ask for");
  }
  return answer.tools;
}

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
    return toolsOf(await this.client.listTools({ serverId }));
  }

  /** Every tool of every active server of the team, in one request. */
  async getAllTools(): Promise<Tool[]> {
    return toolsOf(await this.client.listTools());
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
