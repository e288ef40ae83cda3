//! The hop from the gateway to the action workers is authenticated (issue 13): one action
//! worker (list_servers) started on its own under `wrangler dev`, addressed directly as an
//! attacker who reached it would, refuses every envelope the gateway did not sign (unsigned,
//! signed with another key, expired, a genuine signature over another body, malformed
//! headers) with 401 `auth_error` and nothing of the team's data; a correctly signed envelope
//! (the key from the worker's .dev.vars, as scripts/dev-vars.sh wrote it) is served. The full
//! stack (gateway → signed → action workers) is covered by every other test binary.

use std::process::Command;
use std::time::Duration;

use integration::jwt::now_secs;
use integration::proc::Proc;
use integration::stack::{dev_var, wrangler};
use integration::{free_port, root, stack};
use serde_json::{json, Value};
use shared::internal::{SigningKey, ENVELOPE_TTL_SECS, SIGNATURE_HEADER};

const SERVER_NAME: &str = "team-a-private-server";
const SEED: &str = "INSERT INTO teams (id, name) VALUES ('team-a', 'Team A');
INSERT INTO mcp_servers (id, team_id, name, server_type, config) VALUES
  ('srv-hop-1', 'team-a', 'team-a-private-server', 'http', '{\"url\":\"http://127.0.0.1:9/mcp\"}');";

fn run_ok(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One action worker alone, on its own port and local state.
struct LoneWorker {
    base: String,
    dev: Proc,
    agent: ureq::Agent,
    _state: tempfile::TempDir,
}

impl LoneWorker {
    fn start(worker: &str) -> LoneWorker {
        stack::build_once();
        let state = tempfile::tempdir().expect("temp dir");
        run_ok(
            wrangler(
                &[
                    "d1",
                    "migrations",
                    "apply",
                    "DB",
                    "--local",
                    "-c",
                    "wrangler.toml",
                ],
                state.path(),
            ),
            "migrations",
        );
        let seed = state.path().join("seed.sql");
        std::fs::write(&seed, SEED).unwrap();
        let seed_s = seed.display().to_string();
        run_ok(
            wrangler(
                &[
                    "d1",
                    "execute",
                    "DB",
                    "--local",
                    "-c",
                    "wrangler.toml",
                    "--file",
                    &seed_s,
                    "--yes",
                ],
                state.path(),
            ),
            "seed",
        );
        let port = free_port();
        let port_s = port.to_string();
        let inspector = free_port().to_string();
        let config = format!("functions/{worker}/wrangler.toml");
        let args = [
            "dev",
            "-c",
            &config,
            "--ip",
            "127.0.0.1",
            "--port",
            &port_s,
            "--inspector-port",
            &inspector,
            "--show-interactive-dev-session=false",
        ];
        let mut dev = Proc::spawn(
            &format!("wrangler-dev-{worker}"),
            wrangler(&args, state.path()),
        );
        dev.wait_for_port(port, Duration::from_secs(180));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        LoneWorker {
            base: format!("http://127.0.0.1:{port}"),
            dev,
            agent,
            _state: state,
        }
    }

    /// POSTs `body` as the gateway would, with `signature` as the signature header.
    fn post(&self, body: &[u8], signature: Option<&str>) -> (u16, Value, String) {
        let url = format!("{}/list_servers", self.base);
        let mut last = String::new();
        // The worker may still be starting behind an open port: retry connection errors only.
        for _ in 0..100 {
            let mut req = self
                .agent
                .post(&url)
                .header("content-type", "application/json");
            if let Some(s) = signature {
                req = req.header(SIGNATURE_HEADER, s);
            }
            match req.send(body) {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    let text = r.body_mut().read_to_string().unwrap_or_default();
                    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
                    return (status, json, text);
                }
                Err(e) => {
                    last = e.to_string();
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        panic!("{url}: {last}; log:\n{}", self.dev.log_text());
    }
}

fn envelope(request_id: &str, team: &str, role: &str) -> Vec<u8> {
    json!({
        "request_id": request_id,
        "identity": {"user_id": "mallory", "team_id": team, "role": role},
        "request": {"action": "list_servers"},
    })
    .to_string()
    .into_bytes()
}

#[test]
fn an_action_worker_on_its_own_refuses_envelopes_the_gateway_did_not_sign() {
    let worker = LoneWorker::start("list_servers");
    let secret = dev_var(
        &root().join("functions/list_servers/.dev.vars"),
        "INTERNAL_SIGNING_KEY",
    );
    assert_eq!(
        secret,
        dev_var(&root().join(".dev.vars"), "INTERNAL_SIGNING_KEY"),
        "the gateway and the action worker share one key"
    );
    let key = SigningKey::from_secret(Some(&secret)).unwrap();
    let other_key =
        SigningKey::from_secret(Some("an-attacker-guess-at-the-key-0123456789")).unwrap();
    let forged = envelope("req-forged", "team-a", "admin");
    let now = now_secs();

    let genuine_other_body = key.sign(&envelope("req-forged", "team-b", "member"), now);
    let good = key.sign(&forged, now);
    let good_hex = good.rsplit(',').next().unwrap().to_string();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no signature", None),
        (
            "signed with another key",
            Some(other_key.sign(&forged, now)),
        ),
        (
            "expired",
            Some(key.sign_until(&forged, now.saturating_sub(ENVELOPE_TTL_SECS + 60))),
        ),
        (
            "a valid signature over a different body",
            Some(genuine_other_body),
        ),
        (
            "expiry moved forward",
            Some(format!("v1,t={},{good_hex}", now + 20)),
        ),
        (
            "unknown version",
            Some(format!("v2,t={},{good_hex}", now + ENVELOPE_TTL_SECS)),
        ),
        ("garbage", Some("v1,t=abc,zz".into())),
        ("empty", Some(String::new())),
    ];
    for (what, signature) in cases {
        let (status, body, text) = worker.post(&forged, signature.as_deref());
        assert_eq!(status, 401, "{what}: {text}");
        assert_eq!(body["status"], "error", "{what}: {text}");
        assert_eq!(body["code"], "auth_error", "{what}: {text}");
        assert_eq!(body["error"], body["message"], "{what}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("internal request refused")),
            "{what}: {text}"
        );
        assert!(body.get("servers").is_none(), "{what}: {text}");
        assert!(
            !text.contains(SERVER_NAME) && !text.contains("srv-hop-1"),
            "{what}: nothing from D1 for the forged identity: {text}"
        );
    }

    // The same bytes, signed with the shared key, are served: the worker and its D1 work.
    let (status, body, text) = worker.post(&forged, Some(&good));
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["servers"][0]["name"], SERVER_NAME, "{text}");

    let log = worker.dev.log_text();
    assert!(
        log.contains("refused envelope"),
        "refusals are logged: {log}"
    );
    assert!(!log.contains(&secret), "the signing key reached the log");
}
