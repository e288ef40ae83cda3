//! Structured log lines: one JSON object per line, always with the request id, so a request
//! can be followed through the gateway and the action worker (`wrangler tail` / dev logs).
//! Callers never pass secrets: errors are logged by their messages, which hold none.

use serde_json::json;

pub fn log(level: &str, worker: &str, request_id: &str, message: &str) {
    let line =
        json!({ "level": level, "worker": worker, "request_id": request_id, "msg": message });
    worker::console_log!("{line}");
}
