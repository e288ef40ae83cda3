//! Execution history and usage analytics: what the team's tools do, what is used, what fails,
//! how fast. Served by the admin worker.
//!
//! - `analytics` (admins): `report` = `most_used` | `percentiles` | `daily_trends` | `errors` |
//!   `user_activity`, over the last `days` UTC calendar days (1–365, default 30; today counts
//!   as one) and `limit` rows (1–200, default 20).
//! - `list_executions` (members: their own; admins: the team's): newest first, filters
//!   `tool_name`, `server_id`, `user_id`, `status`, `since`/`until` (ISO-8601 UTC), `limit`
//!   (1–200, default 50) and the opaque `cursor` of the previous page (`next_cursor`).
//! - `get_execution` (members: their own; admins: the team's): one execution with its stored
//!   (capped, redacted) input and output.
//!
//! Invariants:
//! - Every read is scoped to the caller's team in SQL (`repo::analytics`); a member's reads are
//!   also scoped to the member. Another team's (or, for a member, another user's) execution is
//!   404, the same answer as an id that does not exist.
//! - Every report answers its window (`since`) so that its numbers can be reconciled: the
//!   windows of all reports with the same `days` are the same, so their totals agree.
//! - Every parameter is validated before any query; a bad one is a `validation_error` naming it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::{Ctx, Reply, Upstream};
use crate::api::{field_error, ActionRequest, AnalyticsAction, MAX_ID_LEN, MAX_NAME_LEN};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::identity::Role;
use crate::repo::analytics::{self as repo, ListFilter, ToolStats};
use crate::repo::executions::Status;
use crate::time::iso_from_ms;

pub const MAX_DAYS: u64 = 365;
pub const DEFAULT_DAYS: u64 = 30;
pub const MAX_LIMIT: u64 = 200;
pub const DEFAULT_REPORT_LIMIT: u64 = 20;
pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const REPORTS: &[&str] = &[
    "most_used",
    "percentiles",
    "daily_trends",
    "errors",
    "user_activity",
];
const DAY_MS: u64 = 86_400_000;
/// Below every stored timestamp / above every stored timestamp (text order).
const MIN_TIME: &str = "0000-01-01T00:00:00.000Z";
const MAX_TIME: &str = "9999-12-31T23:59:59.999Z";

pub async fn analytics<D: Database, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    action: AnalyticsAction,
    req: &ActionRequest,
) -> Result<Reply> {
    match action {
        AnalyticsAction::Report => {
            ctx.identity.require_admin("analytics")?;
            report(ctx, req).await
        }
        AnalyticsAction::ListExecutions => list_executions(ctx, req).await,
        AnalyticsAction::GetExecution => get_execution(ctx, req).await,
    }
}

/// The first instant of the window: the start of the UTC day `days - 1` days before today.
pub fn window_start_ms(now_ms: u64, days: u64) -> u64 {
    let today = now_ms - now_ms % DAY_MS;
    today.saturating_sub(days.saturating_sub(1) * DAY_MS)
}

async fn report<D: Database, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let name = req.required_str("report", 32)?;
    if !REPORTS.contains(&name) {
        return Err(Error::validation_with(
            format!("'report' must be one of {}", REPORTS.join(", ")),
            json!({ "field": "report", "allowed": REPORTS }),
        ));
    }
    let days = req
        .optional_u64("days", 1, MAX_DAYS)?
        .unwrap_or(DEFAULT_DAYS);
    let limit = req
        .optional_u64("limit", 1, MAX_LIMIT)?
        .unwrap_or(DEFAULT_REPORT_LIMIT) as u32;
    let db = ctx.services.db;
    let team = ctx.team();
    let now_ms = ctx.services.http.now_ms();
    let since_ms = window_start_ms(now_ms, days);
    let since = iso_from_ms(since_ms);
    let mut body = json!({
        "report": name,
        "days": days,
        "since": since,
        "until": iso_from_ms(now_ms),
    });
    let extra = match name {
        "most_used" => {
            let tools: Vec<Value> = repo::tool_stats(db, team, &since, limit)
                .await?
                .iter()
                .map(most_used_json)
                .collect();
            json!({ "tools": tools })
        }
        "percentiles" => {
            let mut stats: Vec<ToolStats> =
                repo::tool_stats(db, team, &since, repo::MAX_TOOL_GROUPS)
                    .await?
                    .into_iter()
                    .filter(|t| t.timed_executions > 0)
                    .collect();
            // Slowest first (by p95, then p99); ties keep the most used first.
            stats.sort_by(|a, b| {
                (b.p95_ms, b.p99_ms, b.executions).cmp(&(a.p95_ms, a.p99_ms, a.executions))
            });
            let tools: Vec<Value> = stats
                .iter()
                .take(limit as usize)
                .map(percentiles_json)
                .collect();
            json!({ "tools": tools })
        }
        "daily_trends" => {
            let rows = repo::daily(db, team, &since).await?;
            let mut trends = Vec::with_capacity(days as usize);
            let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64);
            for i in 0..days {
                let date = iso_from_ms(since_ms + i * DAY_MS)[..10].to_string();
                let day = rows.iter().find(|d| d.date == date);
                let (n, ok, failed, timed_out, cancelled, avg) =
                    day.map_or((0, 0, 0, 0, 0, None), |d| {
                        (
                            d.executions,
                            d.successes,
                            d.failures,
                            d.timeouts,
                            d.cancellations,
                            d.avg_duration_ms,
                        )
                    });
                totals = (
                    totals.0 + n,
                    totals.1 + ok,
                    totals.2 + failed,
                    totals.3 + timed_out,
                    totals.4 + cancelled,
                );
                trends.push(json!({
                    "date": date,
                    "executions": n,
                    "successes": ok,
                    "failures": failed,
                    "timeouts": timed_out,
                    "cancellations": cancelled,
                    "avg_duration_ms": avg.map(round1),
                }));
            }
            json!({
                "trends": trends,
                "totals": {
                    "executions": totals.0,
                    "successes": totals.1,
                    "failures": totals.2,
                    "timeouts": totals.3,
                    "cancellations": totals.4,
                },
            })
        }
        "errors" => {
            let (groups, total) = repo::errors(db, team, &since, limit).await?;
            let errors: Vec<Value> = groups
                .into_iter()
                .map(|g| {
                    json!({
                        "tool_name": g.tool_name,
                        "server_id": g.server_id,
                        "server_name": g.server_name,
                        "status": g.status,
                        "message": g.message,
                        "occurrences": g.occurrences,
                        "last_occurred_at": g.last_occurred_at,
                        "last_execution_id": g.last_execution_id,
                    })
                })
                .collect();
            json!({ "total_failures": total, "errors": errors })
        }
        _ => {
            let users: Vec<Value> = repo::user_activity(db, team, &since, limit)
                .await?
                .into_iter()
                .map(|u| {
                    json!({
                        "user_id": u.user_id,
                        "executions": u.executions,
                        "successes": u.successes,
                        "errors": u.errors,
                        "timeouts": u.timeouts,
                        "cancellations": u.cancellations,
                        "distinct_tools": u.distinct_tools,
                        "avg_duration_ms": u.avg_duration_ms.map(round1),
                        "last_executed_at": u.last_executed_at,
                    })
                })
                .collect();
            json!({ "users": users })
        }
    };
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Ok(Reply::ok(body))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Successes over executions that ran to an outcome (pending ones have none yet; a cancelled
/// one was stopped by a user, not by the tool); null when none.
fn success_rate(t: &ToolStats) -> Option<f64> {
    let finished = t.successes + t.errors + t.timeouts;
    (finished > 0).then(|| (t.successes as f64 / finished as f64 * 10_000.0).round() / 10_000.0)
}

fn most_used_json(t: &ToolStats) -> Value {
    json!({
        "tool_id": t.tool_id,
        "tool_name": t.tool_name,
        "server_id": t.server_id,
        "server_name": t.server_name,
        "executions": t.executions,
        "successes": t.successes,
        "errors": t.errors,
        "timeouts": t.timeouts,
        "cancellations": t.cancellations,
        "avg_duration_ms": t.avg_duration_ms.map(round1),
        "success_rate": success_rate(t),
        "p50_ms": t.p50_ms,
        "p95_ms": t.p95_ms,
        "p99_ms": t.p99_ms,
        "last_executed_at": t.last_executed_at,
    })
}

fn percentiles_json(t: &ToolStats) -> Value {
    json!({
        "tool_id": t.tool_id,
        "tool_name": t.tool_name,
        "server_id": t.server_id,
        "server_name": t.server_name,
        "timed_executions": t.timed_executions,
        "min_ms": t.min_ms,
        "p50_ms": t.p50_ms,
        "p95_ms": t.p95_ms,
        "p99_ms": t.p99_ms,
        "max_ms": t.max_ms,
        "avg_duration_ms": t.avg_duration_ms.map(round1),
    })
}

/// Whose executions the caller may read: admins any of the team's, members their own.
fn readable_user<'a, D, C, H>(
    ctx: &'a Ctx<'_, D, C, H>,
    requested: Option<&'a str>,
) -> Result<Option<&'a str>> {
    match ctx.identity.role {
        Role::Owner | Role::Admin => Ok(requested),
        Role::Member => match requested {
            Some(other) if other != ctx.identity.user_id => Err(Error::Authorization(
                "members may only list their own executions; 'user_id' must be yours or absent"
                    .into(),
            )),
            _ => Ok(Some(ctx.identity.user_id.as_str())),
        },
    }
}

async fn list_executions<D: Database, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let limit = req
        .optional_u64("limit", 1, MAX_LIMIT)?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let status = match req.optional_str("status", 16)? {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            let allowed = Status::names();
            Error::validation_with(
                format!("'status' must be one of {}", allowed.join(", ")),
                json!({ "field": "status", "allowed": allowed }),
            )
        })?),
    };
    let since = optional_time(req, "since")?;
    let until = optional_time(req, "until")?;
    if let (Some(s), Some(u)) = (&since, &until) {
        if s >= u {
            return Err(field_error("until", "must be later than 'since'"));
        }
    }
    let cursor = match req.optional_str("cursor", 512)? {
        Some(c) => Some(decode_cursor(c)?),
        None => None,
    };
    let user_id = readable_user(ctx, req.optional_str("user_id", MAX_ID_LEN)?)?;
    // The tighter of `until` and the cursor bounds the page from above.
    let until_bound = (until.unwrap_or_else(|| MAX_TIME.to_string()), String::new());
    let before = match cursor {
        Some(c) if c < until_bound => c,
        _ => until_bound,
    };
    let filter = ListFilter {
        since: since.unwrap_or_else(|| MIN_TIME.to_string()),
        before,
        server_id: req
            .optional_str("server_id", MAX_ID_LEN)?
            .map(str::to_string),
        tool_name: req
            .optional_str("tool_name", MAX_NAME_LEN)?
            .map(str::to_string),
        status,
        user_id: user_id.map(str::to_string),
    };
    // One more than asked: whether there is a next page, without a count.
    let mut rows = repo::list(ctx.services.db, ctx.team(), &filter, limit as u32 + 1).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|last| encode_cursor(&last.started_at, &last.id))
    } else {
        None
    };
    Ok(Reply::ok(json!({
        "executions": rows,
        "next_cursor": next_cursor,
        "limit": limit,
    })))
}

pub async fn get_execution<D: Database, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let id = req.required_str("execution_id", MAX_ID_LEN)?;
    let only_user = readable_user(ctx, None)?;
    let e = repo::get(ctx.services.db, ctx.team(), id, only_user)
        .await?
        .ok_or_else(|| Error::NotFound(format!("execution '{id}' not found")))?;
    let mut execution = serde_json::to_value(&e.summary).map_err(Error::internal)?;
    if let Some(fields) = execution.as_object_mut() {
        fields.insert("input".into(), json_or_null(e.input.as_deref()));
        fields.insert("output".into(), json_or_null(e.output.as_deref()));
    }
    Ok(Reply::ok(json!({ "execution": execution })))
}

fn json_or_null(text: Option<&str>) -> Value {
    text.map(json_or_text).unwrap_or(Value::Null)
}

/// Stored input/output are JSON text (or a cap marker); show them as JSON when they parse.
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

const CURSOR_VERSION: &str = "e1";

/// The position after a row: opaque to clients (base64url of version, started_at and id).
pub fn encode_cursor(started_at: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}\n{started_at}\n{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<(String, String)> {
    let bad = || {
        field_error(
            "cursor",
            "is not a cursor this API returned (use next_cursor)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(CURSOR_VERSION), Some(at), Some(id))
            if !id.is_empty()
                && id.len() <= MAX_ID_LEN
                && parse_time(at).as_deref() == Some(at) =>
        {
            Ok((at.to_string(), id.to_string()))
        }
        _ => Err(bad()),
    }
}

fn optional_time(req: &ActionRequest, field: &str) -> Result<Option<String>> {
    match req.optional_str(field, 40)? {
        None => Ok(None),
        Some(text) => parse_time(text).map(Some).ok_or_else(|| {
            field_error(
                field,
                "must be an ISO-8601 UTC time (2026-11-21T20:17:36Z, with optional fraction) or date (2026-11-21)",
            )
        }),
    }
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.f…]Z` into the stored form
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, so that text comparison with stored times is time comparison.
pub fn parse_time(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day == 0 || day > month_days[month as usize - 1] {
        return None;
    }
    let date = &text[..10];
    if b.len() == 10 {
        return Some(format!("{date}T00:00:00.000Z"));
    }
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[b.len() - 1] != b'Z' {
        return None;
    }
    let (h, m, s) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let millis = match &text[19..text.len() - 1] {
        "" => "000".to_string(),
        frac if frac.len() >= 2 && frac.len() <= 10 && frac.starts_with('.') => {
            let f = &frac[1..];
            if !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            format!("{f:0<3}")[..3].to_string()
        }
        _ => return None,
    };
    Some(format!("{date}T{h:02}:{m:02}:{s:02}.{millis}Z"))
}

#[cfg(test)]
mod tests;
