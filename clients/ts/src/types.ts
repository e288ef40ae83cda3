/**
 * Request and answer types of the action API, from `openapi.d.ts` (generated from
 * `openapi/openapi.json` by openapi-typescript; `test/openapi_types.test.ts` fails when it is
 * stale). `ANSWER_SCHEMAS` is the document's `x-answer` of every action (checked by the same
 * test), so `AnswerOf<A>` is the document's answer type of action `A`.
 *
 * The document types a free-form object (`type: object`, no properties) as
 * `Record<string, never>`; the few such fields a client reads (a formatted tool, an event's
 * data) are typed here instead, from the shapes `shared::tool_formats` and
 * `shared::background::journal` produce.
 */
import type { components } from "./openapi.d.ts";

export type Schemas = components["schemas"];
export type ActionRequest = Schemas["ActionRequest"];
export type ActionName = ActionRequest["action"];
export type RequestOf<A extends ActionName> = Extract<ActionRequest, { action: A }>;

export const ANSWER_SCHEMAS = {
  list_servers: "ListServersAnswer",
  list_tools: "ListToolsAnswer",
  call_tool: "CallToolAnswer",
  sync_tools: "SyncToolsAnswer",
  list_connectors: "ListConnectorsAnswer",
  create_server: "ServerAnswer",
  update_server: "ServerAnswer",
  delete_server: "DeleteServerAnswer",
  update_tool: "ToolAnswer",
  get_server: "ServerAnswer",
  set_credential: "CredentialAnswer",
  delete_credential: "DeleteCredentialAnswer",
  reencrypt_credentials: "ReencryptAnswer",
  approve_tool: "ToolAnswer",
  refresh_config: "RefreshConfigAnswer",
  analytics: "AnalyticsAnswer",
  list_executions: "ListExecutionsAnswer",
  get_execution: "GetExecutionAnswer",
  list_members: "ListMembersAnswer",
  add_member: "MemberAnswer",
  update_member: "MemberAnswer",
  remove_member: "RemoveMemberAnswer",
  create_team: "CreateTeamAnswer",
  watch_execution: "ExecutionEventStream",
  cancel_execution: "CancelExecutionAnswer",
  answer_execution: "AnswerExecutionAnswer",
  set_webhook: "WebhookAnswer",
  delete_webhook: "DeleteWebhookAnswer",
} as const satisfies Record<ActionName, keyof Schemas>;

export type AnswerOf<A extends ActionName> = Schemas[(typeof ANSWER_SCHEMAS)[A]];

export type ServerSummary = Schemas["ServerSummary"];
export type Tool = Schemas["Tool"];
export type Execution = Schemas["Execution"];
export type ListServersAnswer = Schemas["ListServersAnswer"];
/** `list_tools` without `format`. */
export type ToolListAnswer = Schemas["ToolList"];
/** `list_tools` either way (`ToolListAnswer` or `FormattedToolsAnswer`). */
export type ListToolsAnswer = Schemas["ListToolsAnswer"];
export type CallToolAnswer = Schemas["CallToolAnswer"];
export type ConfirmationRequired = Schemas["ConfirmationRequired"];
/** `call_tool` in the background (`mode: "async"`, or a `long_running` tool): 202 at once. */
export type BackgroundStarted = Schemas["BackgroundStarted"];
/** @deprecated the document's name is `BackgroundStarted`. */
export type AsyncCallAnswer = BackgroundStarted;
export type SyncToolsAnswer = Schemas["SyncToolsAnswer"];
export type GetExecutionAnswer = Schemas["GetExecutionAnswer"];
export type CancelExecutionAnswer = Schemas["CancelExecutionAnswer"];
export type WebhookAnswer = Schemas["WebhookAnswer"];
export type DeleteWebhookAnswer = Schemas["DeleteWebhookAnswer"];

/** The shapes `list_tools` can answer in: three model providers' and MCP's own. */
export type ToolFormat = NonNullable<Schemas["ListToolsRequest"]["format"]>;

/** What a namespaced tool name (`<server>__<tool>`) calls. */
export interface ToolMapping {
  server_id: string;
  server_name: string;
  tool_name: string;
}

/** `list_tools` with `format`: `tools` goes to the provider as is; `mapping` leads back. */
export interface FormattedToolsAnswer {
  format: ToolFormat;
  /** openai: `{type: "function", function: {name, description?, parameters}}`; anthropic:
   * `{name, description?, input_schema}`; gemini: one `{functionDeclarations: [...]}`;
   * mcp: `{name, title?, description?, inputSchema, annotations?}`. */
  tools: Record<string, unknown>[];
  /** Namespaced tool name → the server and tool it calls (one entry per tool). */
  mapping: Record<string, ToolMapping>;
  cached: boolean;
}

/** The kinds of an execution's events; `result`, `error` and `cancelled` are final. */
export type ExecutionEventKind = Schemas["ExecutionEvent"]["kind"];

/** What each kind of event carries (`shared::background::journal`). */
export interface ExecutionEventData {
  progress: { progress: number; total?: number; message?: string };
  log: { level: string; logger?: string; data: unknown };
  result: { status: "success" | "error"; success: boolean; result: unknown; duration_ms: number };
  error: { status: "error" | "timeout"; code: string; message: string; duration_ms: number };
  cancelled: { status: "cancelled"; message: string; duration_ms: number };
}

/** One event of `watch_execution`'s stream (the document's `ExecutionEvent` without `at_ms`). */
export type ExecutionEvent = {
  [K in ExecutionEventKind]: {
    /** Ids start at 1 and increase by 1 (resend the last one as `Last-Event-ID` to resume). */
    id: number;
    kind: K;
    data: ExecutionEventData[K];
  };
}[ExecutionEventKind];

/** The final event kinds of an execution's stream: exactly one ends it. */
export const FINAL_EVENTS: readonly ExecutionEventKind[] = ["result", "error", "cancelled"];

/** Whether `kind` ends an execution's stream. */
export function isFinalEvent(kind: string): boolean {
  return (FINAL_EVENTS as readonly string[]).includes(kind);
}
