/**
 * mcp-edge's TypeScript client: `McpEdgeClient` (the typed action API), `McpEdgeError`
 * (every error answer), the `text/event-stream` parser, and `MCPClientService` (the seed
 * PWA's method names).
 */
export { McpEdgeClient, type ClientOptions, type ResponseMeta, type WatchOptions } from "./client.ts";
export {
  McpEdgeError,
  isErrorBody,
  type ClientErrorCode,
  type ErrorBody,
  type ErrorCode,
} from "./errors.ts";
export { readRateLimit, type RateLimit } from "./ratelimit.ts";
export { readSse, SseParser, type SseEvent } from "./sse.ts";
export { MCPClientService, type ToolExecution } from "./seed.ts";
export * from "./types.ts";
