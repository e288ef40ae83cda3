/**
 * `McpEdgeClient`: the action API over `fetch`, typed from the OpenAPI document.
 *
 * Invariants: every request is `POST <baseUrl><path>` with `Content-Type: application/json`
 * and `Authorization: Bearer <token>` (the token is read per request, so a refreshed one is
 * used); a non-2xx answer is thrown as `McpEdgeError` (code, status, request_id, message),
 * never returned; a 2xx answer is returned as its documented type; the request id, status,
 * rate-limit headers and `Server-Timing` of the latest answer are in `lastResponse`.
 * `watchExecution` resumes a dropped stream from the last event id it saw and ends after the
 * one final event (`result`, `error` or `cancelled`); an error answer to it is thrown.
 */
import { McpEdgeError } from "./errors.ts";
import { readRateLimit, type RateLimit } from "./ratelimit.ts";
import { readSse, SseParser } from "./sse.ts";
import {
  isFinalEvent,
  type ActionName,
  type AnswerOf,
  type BackgroundStarted,
  type CallToolAnswer,
  type CancelExecutionAnswer,
  type ConfirmationRequired,
  type DeleteWebhookAnswer,
  type ExecutionEvent,
  type FormattedToolsAnswer,
  type GetExecutionAnswer,
  type ListServersAnswer,
  type RequestOf,
  type SyncToolsAnswer,
  type ToolFormat,
  type ToolListAnswer,
  type WebhookAnswer,
} from "./types.ts";

export interface ClientOptions {
  /** The gateway's origin, e.g. `https://mcp.example.com` (no trailing path). */
  baseUrl: string;
  /** The user's bearer JWT, or a function answering the current one. */
  token: string | (() => string | Promise<string>);
  /** The path actions are posted to: `/` (default) or the seed's `/functions/v1/mcp-client`. */
  path?: string;
  /** The team to act on (`X-Team-Id`) for a member of several teams. */
  teamId?: string;
  /** A W3C `traceparent` per request, to follow a request through the logs by trace id. */
  traceparent?: () => string | undefined;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/** What the latest answer said besides its body. */
export interface ResponseMeta {
  status: number;
  request_id: string;
  rateLimit: RateLimit | undefined;
  serverTiming: string | undefined;
}

export interface WatchOptions {
  /** Resume after this event id (`Last-Event-ID`). */
  lastEventId?: number | string;
  /** Stops the watch (the stream is closed; the execution goes on). */
  signal?: AbortSignal;
  /** How many times a stream that ends before the final event is reopened (default 5). */
  reconnects?: number;
}

export class McpEdgeClient {
  private readonly options: ClientOptions;
  private readonly fetcher: typeof fetch;
  lastResponse: ResponseMeta | undefined;

  constructor(options: ClientOptions) {
    this.options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Any action, typed by its name: answers the document's answer of that action (JSON;
   * `watch_execution` answers a stream: read it with `watchExecution`).
   */
  action<A extends ActionName>(request: RequestOf<A>): Promise<AnswerOf<A>> {
    return this.post(request) as Promise<AnswerOf<A>>;
  }

  listServers(): Promise<ListServersAnswer> {
    return this.action({ action: "list_servers" });
  }

  /** One server's tools, or every server's (one request instead of N+1) without `serverId`. */
  listTools(options?: { serverId?: string }): Promise<ToolListAnswer>;
  /**
   * The same tools in a model provider's tool shape (or as MCP tools) under namespaced names
   * valid for every provider, with `mapping` from each name back to its server and tool.
   */
  listTools(options: { serverId?: string; format: ToolFormat }): Promise<FormattedToolsAnswer>;
  listTools(
    options: { serverId?: string; format?: ToolFormat } = {},
  ): Promise<ToolListAnswer | FormattedToolsAnswer> {
    const body: Record<string, unknown> = { action: "list_tools" };
    if (options.serverId !== undefined) body.server_id = options.serverId;
    if (options.format !== undefined) body.format = options.format;
    return this.post(body) as Promise<ToolListAnswer | FormattedToolsAnswer>;
  }

  /**
   * Calls a tool. `success: false` is a tool that reported an error. Without `mode` the
   * server's default applies: a tool an admin marked `long_running` starts in the background
   * (202 `BackgroundStarted`, follow it with `watchExecution`); `mode: "sync"` always waits.
   */
  callTool(
    serverId: string,
    toolName: string,
    parameters: Record<string, unknown> = {},
    options: { confirmationToken?: string; mode?: "sync" | "async" } = {},
  ): Promise<CallToolAnswer | ConfirmationRequired | BackgroundStarted> {
    const body: Record<string, unknown> = {
      action: "call_tool",
      server_id: serverId,
      tool_name: toolName,
      parameters,
    };
    if (options.mode !== undefined) body.mode = options.mode;
    if (options.confirmationToken !== undefined) {
      body.confirmation_token = options.confirmationToken;
    }
    return this.post(body) as Promise<CallToolAnswer | ConfirmationRequired | BackgroundStarted>;
  }

  /**
   * Starts a tool in the background: 202 with its execution id at once (every check of a
   * synchronous call runs first; a tool that requires confirmation answers
   * `ConfirmationRequired` as `callTool` does, to be repeated with its token).
   */
  callToolAsync(
    serverId: string,
    toolName: string,
    parameters: Record<string, unknown> = {},
    options: { confirmationToken?: string } = {},
  ): Promise<BackgroundStarted | ConfirmationRequired> {
    return this.callTool(serverId, toolName, parameters, { ...options, mode: "async" }) as Promise<
      BackgroundStarted | ConfirmationRequired
    >;
  }

  /** An execution: a running one's state and events so far, or its stored row. */
  getExecution(executionId: string): Promise<GetExecutionAnswer> {
    return this.action({ action: "get_execution", execution_id: executionId });
  }

  /** Cancels a running background execution (one that already ended: 409 `conflict`). */
  cancelExecution(executionId: string): Promise<CancelExecutionAnswer> {
    return this.action({ action: "cancel_execution", execution_id: executionId });
  }

  /** Admin: the team's completion webhook; the answer's `secret` is shown only here. */
  setWebhook(url: string): Promise<WebhookAnswer> {
    return this.action({ action: "set_webhook", url });
  }

  /** Admin: removes the team's completion webhook. */
  deleteWebhook(): Promise<DeleteWebhookAnswer> {
    return this.action({ action: "delete_webhook" });
  }

  syncTools(serverId?: string): Promise<SyncToolsAnswer> {
    return this.post(
      serverId === undefined
        ? { action: "sync_tools" }
        : { action: "sync_tools", server_id: serverId },
    ) as Promise<SyncToolsAnswer>;
  }

  /**
   * The events of a background execution (`watch_execution`, `text/event-stream`): what
   * already happened, then progress and logs as they come, ending with the one final event
   * (`result`, `error` or `cancelled`). A stream that ends early is reopened with
   * `Last-Event-ID`, so no event is lost or repeated.
   */
  async *watchExecution(
    executionId: string,
    options: WatchOptions = {},
  ): AsyncGenerator<ExecutionEvent> {
    const parser = new SseParser(
      options.lastEventId === undefined ? "" : String(options.lastEventId),
    );
    let reconnects = options.reconnects ?? 5;
    for (;;) {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (parser.lastEventId !== "") headers["last-event-id"] = parser.lastEventId;
      let dropped: unknown;
      try {
        const response = await this.send(
          { action: "watch_execution", execution_id: executionId },
          headers,
          options.signal,
        );
        if (!response.ok) throw await this.failure(response);
        if (response.body === null) {
          throw new McpEdgeError({
            code: "invalid_answer",
            status: response.status,
            message: "watch_execution answered without a body",
            request_id: response.headers.get("x-request-id") ?? "",
          });
        }
        for await (const sse of readSse(response.body, parser)) {
          const event = {
            id: Number(sse.id),
            kind: sse.event,
            data: parseData(sse.data),
          } as ExecutionEvent;
          yield event;
          if (isFinalEvent(event.kind)) return;
        }
      } catch (err) {
        // An answer (an error body) is final; a connection that failed or dropped is retried.
        if (err instanceof McpEdgeError && err.code !== "network_error") throw err;
        dropped = err;
      }
      if (options.signal?.aborted || reconnects-- <= 0) {
        throw new McpEdgeError({
          code: "network_error",
          status: 0,
          message:
            `the execution's stream ended before its final event ` +
            `(last id '${parser.lastEventId}'${dropped === undefined ? "" : `: ${String(dropped)}`})`,
        });
      }
      await sleep(parser.retry ?? 1000, options.signal);
    }
  }

  private async post(body: Record<string, unknown>): Promise<unknown> {
    const response = await this.send(body, {});
    if (!response.ok) throw await this.failure(response);
    try {
      return await response.json();
    } catch {
      throw new McpEdgeError({
        code: "invalid_answer",
        status: response.status,
        message: "the answer is not JSON",
        request_id: response.headers.get("x-request-id") ?? "",
        rateLimit: readRateLimit(response.headers),
      });
    }
  }

  private async send(
    body: Record<string, unknown>,
    extra: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const token =
      typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      authorization: `Bearer ${token}`,
      ...extra,
    };
    if (this.options.teamId !== undefined) headers["x-team-id"] = this.options.teamId;
    const traceparent = this.options.traceparent?.();
    if (traceparent !== undefined) headers.traceparent = traceparent;
    let response: Response;
    try {
      response = await this.fetcher(`${this.options.baseUrl}${this.options.path ?? "/"}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      throw new McpEdgeError({
        code: "network_error",
        status: 0,
        message: `no answer from ${this.options.baseUrl}: ${String(err)}`,
      });
    }
    this.lastResponse = {
      status: response.status,
      request_id: response.headers.get("x-request-id") ?? "",
      rateLimit: readRateLimit(response.headers),
      serverTiming: response.headers.get("server-timing") ?? undefined,
    };
    return response;
  }

  private async failure(response: Response): Promise<McpEdgeError> {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    return McpEdgeError.fromAnswer(
      response.status,
      body,
      response.headers,
      readRateLimit(response.headers),
    );
  }
}

function parseData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
