/**
 * Errors as typed exceptions. Every non-2xx answer of the API has one body shape
 * (`components.schemas.Error`); `McpEdgeError` carries its `code`, the HTTP `status`, the
 * `request_id` (also in `X-Request-Id`, the id to quote to an operator) and `message`.
 * A failure before any answer (network, CORS) is `McpEdgeError` with code `network_error` and
 * status 0; an answer that is not the documented shape is `invalid_answer`.
 */
import type { components } from "./openapi.d.ts";
import type { RateLimit } from "./ratelimit.ts";

/** The API's error codes (from the OpenAPI document). */
export type ErrorCode = components["schemas"]["ErrorCode"];
/** The API's error codes and the client's own (no answer, or an undocumented one). */
export type ClientErrorCode = ErrorCode | "network_error" | "invalid_answer";
/** The error body every non-2xx answer carries. */
export type ErrorBody = components["schemas"]["Error"];

export class McpEdgeError extends Error {
  readonly code: ClientErrorCode;
  /** The HTTP status (0 when no answer arrived). */
  readonly status: number;
  /** The request's id (body `request_id`, header `X-Request-Id`); "" when no answer arrived. */
  readonly request_id: string;
  /** Machine-readable specifics (`field`, `errors`, `retry_after_seconds`, …). */
  readonly details: Record<string, unknown>;
  /** The rate-limit headers of the answer (on 429s: when to retry). */
  readonly rateLimit: RateLimit | undefined;

  constructor(init: {
    code: ClientErrorCode;
    status: number;
    message: string;
    request_id?: string;
    details?: Record<string, unknown>;
    rateLimit?: RateLimit;
  }) {
    super(init.message);
    this.name = "McpEdgeError";
    this.code = init.code;
    this.status = init.status;
    this.request_id = init.request_id ?? "";
    this.details = init.details ?? {};
    this.rateLimit = init.rateLimit;
  }

  /** Builds the exception from an error answer's status, body and headers. */
  static fromAnswer(
    status: number,
    body: unknown,
    headers: Headers,
    rateLimit?: RateLimit,
  ): McpEdgeError {
    const headerId = headers.get("x-request-id") ?? "";
    if (isErrorBody(body)) {
      return new McpEdgeError({
        code: body.code,
        status,
        message: body.message,
        request_id: body.request_id || headerId,
        details: body.details as Record<string, unknown>,
        rateLimit,
      });
    }
    return new McpEdgeError({
      code: "invalid_answer",
      status,
      message: `HTTP ${status} without the documented error body`,
      request_id: headerId,
      rateLimit,
    });
  }
}

const ERROR_CODES: readonly ErrorCode[] = [
  "validation_error",
  "auth_error",
  "authorization_error",
  "not_found",
  "conflict",
  "payload_too_large",
  "rate_limit",
  "internal_error",
  "tool_error",
  "upstream_error",
  "timeout",
];

/** Whether `body` is the documented error body. */
export function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== "object" || body === null) return false;
  const b = body as Record<string, unknown>;
  return (
    b.status === "error" &&
    typeof b.code === "string" &&
    (ERROR_CODES as readonly string[]).includes(b.code) &&
    typeof b.message === "string" &&
    typeof b.request_id === "string"
  );
}
