/**
 * The rate-limit headers of an answer (`RateLimit-Limit`, `RateLimit-Remaining`,
 * `RateLimit-Reset`, `RateLimit-Policy`, `Retry-After`). Absent headers stay undefined; a
 * header that is not a number is treated as absent (never NaN).
 */
export interface RateLimit {
  limit?: number;
  remaining?: number;
  /** Seconds until the window resets. */
  reset?: number;
  policy?: string;
  /** Seconds to wait before retrying (429 answers). */
  retryAfter?: number;
}

function num(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads the rate-limit headers; undefined when the answer carried none. */
export function readRateLimit(headers: Headers): RateLimit | undefined {
  const rate: RateLimit = {
    limit: num(headers.get("ratelimit-limit")),
    remaining: num(headers.get("ratelimit-remaining")),
    reset: num(headers.get("ratelimit-reset")),
    policy: headers.get("ratelimit-policy") ?? undefined,
    retryAfter: num(headers.get("retry-after")),
  };
  return Object.values(rate).some((v) => v !== undefined) ? rate : undefined;
}
