/**
 * Request and answer types of the action API, from `openapi.d.ts` (generated from
 * `openapi/openapi.json` by openapi-typescript; `test/openapi_types.test.ts` fails when it is
 * stale). `ANSWER_SCHEMAS` is the document's `x-answer` of every action (checked by the same
 * test), so `AnswerOf<A>` is the document's answer type of action `A`.
 *
 * The shapes marked "issue 17"/"issue 18" are not in the document yet: they follow those
 * issues' texts and are replaced by generated ones once the document describes them.
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
  watch_execution: "ExecutionEventStream",
  cancel_execution: "CancelExecutionAnswer",
  set_webhook: "WebhookAnswer",
  delete_webhook: "DeleteWebhookAnswer",
  list_members: "ListMembersAnswer",
  add_member: "MemberAnswer",
  update_member: "MemberAnswer",
  remove_member: "RemoveMemberAnswer",
  create_team: "CreateTeamAnswer",
} as const satisfies Record<ActionName, keyof Schemas>;

export type AnswerOf<A extends ActionName> = Schemas[(typeof ANSWER_SCHEMAS)[A]];

export type ServerSummary = Schemas["ServerSummary"];
export type Tool = Schemas["Tool"];
export type Execution = Schemas["Execution"];
export type ListServersAnswer = Schemas["ListServersAnswer"];
export type ListToolsAnswer = Schemas["ListToolsAnswer"];
export type CallToolAnswer = Schemas["CallToolAnswer"];
export type ConfirmationRequired = Schemas["ConfirmationRequired"];
export type SyncToolsAnswer = Schemas["SyncToolsAnswer"];
export type GetExecutionAnswer = Schemas["GetExecutionAnswer"];

/** issue 18: the model providers `list_tools` can answer in. */
export type ToolFormat = "openai" | "anthropic" | "gemini";

/** issue 18: `list_tools` with `format`: provider-shaped tools and the way back to a call. */
export interface FormattedToolsAnswer {
  tools: Record<string, unknown>[];
  /** Namespaced tool name → the server and tool it calls. */
  mapping?: Record<string, { server_id: string; tool_name: string }>;
  [field: string]: unknown;
}

/** issue 17: `call_tool` with `"mode": "async"` answers 202 at once. */
export interface AsyncCallAnswer {
  execution_id: string;
  status: "running";
  watch?: unknown;
  [field: string]: unknown;
}

/** issue 17: `cancel_execution`'s answer. */
export interface CancelExecutionAnswer {
  success: boolean;
  execution_id: string;
  status?: string;
  [field: string]: unknown;
}

/** issue 17: one event of `watch_execution`'s stream; `result` and `error` are final. */
export interface ExecutionEvent {
  type: "progress" | "log" | "result" | "error" | (string & {});
  /** The event's id (resend as `Last-Event-ID` to resume after it). */
  id: string;
  /** The event's data, parsed as JSON when it is JSON. */
  data: unknown;
}

/** The final event types of an execution's stream. */
export const FINAL_EVENTS: readonly string[] = ["result", "error"];
