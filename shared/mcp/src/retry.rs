//! When a failed upstream request is tried again (DESIGN.md §6): pure policy, with time, the
//! time budget and randomness passed in, so every rule is unit-tested without a network.
//!
//! Invariants:
//! - Only transient failures are retried: the connection could not be made, the connection
//!   broke, HTTP 502/503/504, 429 (rate limited), or Cloudflare's 521/522/523 (its edge could
//!   not connect to the origin behind it). Everything else (JSON-RPC errors, 4xx, garbage
//!   replies, size caps, timeouts) is final at once.
//! - A request that may have reached the server (its POST went out, whatever came back) is
//!   retried only when the caller says it is idempotent (the tool's `idempotentHint` or
//!   `readOnlyHint`). A connection that was never made sent nothing, so it is always safe:
//!   natively ("could not connect"), a 521/522/523 from Cloudflare's edge, and any failure
//!   while connecting or initializing, before the `tools/call` went out. workerd reports a
//!   refused connection and one lost after sending alike ("Network connection lost."), so on
//!   Workers a refused `tools/call` POST counts as possibly delivered: not retried unless
//!   idempotent (the safe side).
//! - Delays grow exponentially from [`RetryPolicy::base_delay_ms`], capped at
//!   [`RetryPolicy::max_delay_ms`], with "equal jitter" (half fixed, half random) so callers
//!   that failed together do not come back together. A server's `Retry-After` is a minimum.
//! - A retry is only started when its delay plus [`MIN_ATTEMPT_MS`] fits in what is left of
//!   the call's time budget; otherwise the last failure is the answer (not a timeout).

use serde_json::Value;

use super::reply::Failure;
use crate::error::McpError;

/// A retry must leave at least this much of the budget for the attempt itself.
pub const MIN_ATTEMPT_MS: u64 = 250;

/// How many times and how fast to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl RetryPolicy {
    /// No retries: the behaviour of the plain client calls.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        base_delay_ms: 0,
        max_delay_ms: 0,
    };

    /// What `call_tool` uses: up to 4 attempts, 200 ms doubling to at most 2 s.
    pub const STANDARD: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay_ms: 200,
        max_delay_ms: 2_000,
    };

    /// The delay before retry number `retry` (1 = the first retry), `jitter` in `[0, 1)`.
    pub fn backoff_ms(&self, retry: u32, jitter: f64) -> u64 {
        let exp = self
            .base_delay_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(20))
            .min(self.max_delay_ms);
        let half = exp / 2;
        half + ((exp - half) as f64 * jitter.clamp(0.0, 1.0)) as u64
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::NONE
    }
}

/// A failure reduced to what the policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection was made (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// The connection broke after it was made (reset, closed, reply cut off).
    Broken,
    /// The server (or a proxy) answered this HTTP status.
    Status(u16),
    /// Not worth retrying: JSON-RPC errors, garbage, size caps, timeouts, lost sessions.
    Permanent,
}

impl FailureKind {
    pub fn is_transient(self) -> bool {
        match self {
            FailureKind::Connect | FailureKind::Broken => true,
            FailureKind::Status(s) => matches!(s, 429 | 502 | 503 | 504) || edge_not_connected(s),
            FailureKind::Permanent => false,
        }
    }
}

/// Cloudflare's edge answered that it could not connect to the origin (521 refused, 522 timed
/// out, 523 unreachable): the request never reached the server.
pub fn edge_not_connected(status: u16) -> bool {
    matches!(status, 521..=523)
}

pub fn kind_of(failure: &Failure) -> FailureKind {
    match failure {
        Failure::Unreachable(e) if e.is_connect() => FailureKind::Connect,
        Failure::Unreachable(McpError::Timeout(_)) => FailureKind::Permanent,
        Failure::Unreachable(_) => FailureKind::Broken,
        Failure::Status { status, .. } => FailureKind::Status(*status),
        Failure::Fatal(e) if e.is_broken() => FailureKind::Broken,
        Failure::Rpc { .. } | Failure::SessionLost { .. } | Failure::Fatal(_) => {
            FailureKind::Permanent
        }
    }
}

/// Whether a failure says something about the server's health (for the circuit breaker):
/// it could not be reached, broke the connection, answered 5xx/429/408, garbage or too much.
/// A JSON-RPC error, a lost session or another 4xx means the server is up and answering.
pub fn counts_against_server(failure: &Failure) -> bool {
    match failure {
        Failure::Unreachable(_) => true,
        Failure::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
        Failure::Rpc { .. } | Failure::SessionLost { .. } => false,
        Failure::Fatal(e) => !matches!(e, McpError::Internal(_)),
    }
}

/// Whether a tool may be called twice with the same arguments: its annotations say
/// `idempotentHint: true` or `readOnlyHint: true` (a read has no effect to repeat).
pub fn idempotent_from_annotations(annotations: Option<&Value>) -> bool {
    let hint = |name: &str| {
        annotations
            .and_then(|a| a.get(name))
            .and_then(Value::as_bool)
            == Some(true)
    };
    hint("idempotentHint") || hint("readOnlyHint")
}

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Situation {
    /// The attempt that just failed (1 = the first).
    pub attempt: u32,
    pub kind: FailureKind,
    /// The request may have reached the server (its POST went out).
    pub may_have_reached: bool,
    pub idempotent: bool,
    /// The server's `Retry-After`, in milliseconds from now.
    pub retry_after_ms: Option<u64>,
    pub now_ms: u64,
    /// When the call's time budget ends.
    pub deadline_ms: u64,
    /// Uniform in `[0, 1)`.
    pub jitter: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry { delay_ms: u64 },
    Stop(Stop),
}

/// Why a failure is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Retries are off for this call.
    Disabled,
    NotTransient,
    /// The request may have reached the server and the tool is not idempotent.
    MayHaveReached,
    AttemptsExhausted,
    /// The next try (after `wait_ms`) would not fit in the time budget.
    OutOfTime {
        wait_ms: u64,
    },
}

impl Stop {
    /// A clause for the error message (empty when there is nothing worth saying).
    pub fn explain(self, attempts: u32) -> String {
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        match self {
            Stop::Disabled | Stop::NotTransient if attempts <= 1 => String::new(),
            Stop::Disabled | Stop::NotTransient => format!(" (after {tries})"),
            Stop::MayHaveReached => format!(
                " (after {tries}; not retried: the request may have reached the server and the tool is not annotated idempotent or read-only)"
            ),
            Stop::AttemptsExhausted => format!(" (gave up after {tries})"),
            Stop::OutOfTime { wait_ms } => format!(
                " (after {tries}; not retried: waiting {} more would exceed the tool's time budget)",
                human_ms(wait_ms)
            ),
        }
    }
}

fn human_ms(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

pub fn decide(policy: &RetryPolicy, s: &Situation) -> Decision {
    if policy.max_attempts <= 1 {
        return Decision::Stop(Stop::Disabled);
    }
    if !s.kind.is_transient() {
        return Decision::Stop(Stop::NotTransient);
    }
    if s.may_have_reached && !s.idempotent {
        return Decision::Stop(Stop::MayHaveReached);
    }
    if s.attempt >= policy.max_attempts {
        return Decision::Stop(Stop::AttemptsExhausted);
    }
    let backoff = policy.backoff_ms(s.attempt, s.jitter);
    let delay_ms = backoff.max(s.retry_after_ms.unwrap_or(0));
    let left = s.deadline_ms.saturating_sub(s.now_ms);
    if delay_ms.saturating_add(MIN_ATTEMPT_MS) > left {
        return Decision::Stop(Stop::OutOfTime { wait_ms: delay_ms });
    }
    Decision::Retry { delay_ms }
}

/// `Retry-After` (delay-seconds or an IMF-fixdate) as milliseconds from `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at_ms = parse_imf_fixdate(v)?;
    Some(at_ms.saturating_sub(now_ms))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as epoch milliseconds.
fn parse_imf_fixdate(v: &str) -> Option<u64> {
    let (_, rest) = v.split_once(", ")?;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u32 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u32
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + (*h * 3600 + *m * 60 + *s) as i64;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// Howard Hinnant's civil-to-days (proleptic Gregorian), the inverse of `time::civil_from_days`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RpcError;
    use serde_json::json;

    const NOW: u64 = 1_000_000;

    fn situation(kind: FailureKind) -> Situation {
        Situation {
            attempt: 1,
            kind,
            may_have_reached: false,
            idempotent: false,
            retry_after_ms: None,
            now_ms: NOW,
            deadline_ms: NOW + 30_000,
            jitter: 0.5,
        }
    }

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            rpc: None,
            retry_after: None,
            message: String::new(),
        }
    }

    #[test]
    fn transient_failures_are_connect_broken_502_503_504_and_429() {
        let up = McpError::transport;
        assert_eq!(
            kind_of(&Failure::Unreachable(up(
                "could not connect to 127.0.0.1:9: Connection refused"
            ))),
            FailureKind::Connect
        );
        assert_eq!(
            kind_of(&Failure::Unreachable(up(
                "could not reach the server: Network connection lost."
            ))),
            FailureKind::Broken
        );
        assert_eq!(
            kind_of(&Failure::upstream(
                "tools/call: the server closed the reply stream before answering"
            )),
            FailureKind::Broken
        );
        assert_eq!(
            kind_of(&Failure::Fatal(up(
                "tools/call: reading the reply from h:1 failed: error decoding response body"
            ))),
            FailureKind::Broken
        );
        assert_eq!(
            kind_of(&Failure::upstream("tools/call: invalid JSON")),
            FailureKind::Permanent
        );
        assert_eq!(
            kind_of(&Failure::Fatal(McpError::Timeout("slow".into()))),
            FailureKind::Permanent
        );
        for s in [429, 502, 503, 504, 521, 522, 523] {
            assert!(kind_of(&status(s)).is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 500, 501, 520, 524] {
            assert!(!kind_of(&status(s)).is_transient(), "{s}");
        }
        let rpc = Failure::Rpc {
            error: RpcError {
                code: -32603,
                message: "boom".into(),
                data: None,
            },
            message: "boom".into(),
        };
        assert!(!kind_of(&rpc).is_transient());
        assert!(!counts_against_server(&rpc), "the server answered");
        assert!(!counts_against_server(&status(401)));
        assert!(counts_against_server(&status(500)));
        assert!(counts_against_server(&status(429)));
        assert!(counts_against_server(&Failure::upstream("not JSON")));
    }

    #[test]
    fn a_request_that_may_have_reached_the_server_is_retried_only_when_idempotent() {
        let mut s = situation(FailureKind::Status(503));
        s.may_have_reached = true;
        assert_eq!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Stop(Stop::MayHaveReached)
        );
        s.idempotent = true;
        assert!(matches!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Retry { .. }
        ));
        // Refused before anything was sent: safe for any tool.
        let refused = situation(FailureKind::Connect);
        assert!(matches!(
            decide(&RetryPolicy::STANDARD, &refused),
            Decision::Retry { .. }
        ));
        assert_eq!(
            decide(&RetryPolicy::NONE, &refused),
            Decision::Stop(Stop::Disabled)
        );
        assert_eq!(
            decide(&RetryPolicy::STANDARD, &situation(FailureKind::Permanent)),
            Decision::Stop(Stop::NotTransient)
        );
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let p = RetryPolicy::STANDARD;
        assert_eq!(p.backoff_ms(1, 0.0), 100);
        assert_eq!(p.backoff_ms(1, 0.999_999), 199);
        assert_eq!(p.backoff_ms(2, 0.0), 200);
        assert_eq!(p.backoff_ms(3, 0.0), 400);
        assert_eq!(p.backoff_ms(10, 0.0), 1_000, "capped at max_delay_ms");
        assert_eq!(p.backoff_ms(60, 1.0), 2_000, "no overflow");
        for retry in 1..8 {
            let lo = p.backoff_ms(retry, 0.0);
            let hi = p.backoff_ms(retry, 0.99);
            assert!(lo <= hi && hi <= p.max_delay_ms, "{retry}: {lo}..{hi}");
        }
    }

    #[test]
    fn attempts_and_the_time_budget_bound_retries() {
        let mut s = situation(FailureKind::Connect);
        s.attempt = RetryPolicy::STANDARD.max_attempts;
        assert_eq!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Stop(Stop::AttemptsExhausted)
        );
        let mut s = situation(FailureKind::Connect);
        s.deadline_ms = NOW + 300;
        assert!(matches!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Stop(Stop::OutOfTime { .. })
        ));
        s.deadline_ms = NOW + 1_000;
        assert_eq!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Retry { delay_ms: 150 }
        );
    }

    #[test]
    fn retry_after_is_a_minimum_and_must_fit_the_budget() {
        let mut s = situation(FailureKind::Status(429));
        s.idempotent = true;
        s.may_have_reached = true;
        s.retry_after_ms = Some(1_000);
        assert_eq!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Retry { delay_ms: 1_000 }
        );
        s.retry_after_ms = Some(120_000);
        assert_eq!(
            decide(&RetryPolicy::STANDARD, &s),
            Decision::Stop(Stop::OutOfTime { wait_ms: 120_000 })
        );
        assert!(Stop::OutOfTime { wait_ms: 120_000 }
            .explain(1)
            .contains("waiting 120 s more"));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 30 ", 0), Some(30_000));
        // 1994-11-06T08:49:37Z = 784111777 s.
        let at = 784_111_777_000;
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 5_000),
            Some(5_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 1),
            Some(0),
            "a date in the past: now"
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0), None);
        // 2024-02-29T23:59:59Z: a leap day.
        assert_eq!(
            parse_imf_fixdate("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(1_709_251_199_000)
        );
    }

    #[test]
    fn idempotency_comes_from_the_tools_annotations() {
        assert!(!idempotent_from_annotations(None));
        assert!(!idempotent_from_annotations(Some(&json!({}))));
        assert!(!idempotent_from_annotations(Some(
            &json!({"idempotentHint": "yes"})
        )));
        assert!(idempotent_from_annotations(Some(
            &json!({"idempotentHint": true})
        )));
        assert!(idempotent_from_annotations(Some(
            &json!({"readOnlyHint": true, "idempotentHint": false})
        )));
    }

    #[test]
    fn stop_reasons_explain_themselves() {
        assert_eq!(Stop::NotTransient.explain(1), "");
        assert_eq!(Stop::NotTransient.explain(3), " (after 3 attempts)");
        assert!(Stop::MayHaveReached.explain(1).contains("may have reached"));
        assert_eq!(
            Stop::AttemptsExhausted.explain(4),
            " (gave up after 4 attempts)"
        );
    }
}
