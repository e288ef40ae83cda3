//! Structured log lines: one JSON object per line, always with the request id, so a request
//! can be followed through the gateway and the action worker (`wrangler tail` / dev logs).
//! Callers never pass secrets: errors are logged by their messages, which hold none.

use serde_json::{json, Map, Value};

pub fn log(level: &str, worker: &str, request_id: &str, message: &str) {
    log_with(level, worker, request_id, message, Map::new());
}

/// A line with named fields beside the message (OpenTelemetry's semantic names where one
/// exists: `http.request.method`, `url.path`, `http.response.status_code`, …).
pub fn log_with(
    level: &str,
    worker: &str,
    request_id: &str,
    message: &str,
    fields: Map<String, Value>,
) {
    let mut line = fields;
    line.insert("level".into(), json!(level));
    line.insert("worker".into(), json!(worker));
    line.insert("request_id".into(), json!(request_id));
    line.insert("msg".into(), json!(message));
    worker::console_log!("{}", Value::Object(line));
}
