//! Scrubbing credential values out of anything we store or answer. A tool may echo what it
//! was sent (a debugging tool printing its headers, an error quoting the request): the
//! gateway must still never hand a credential to the PWA or write it to an execution row.
//!
//! Invariants:
//! - Every occurrence of every secret is replaced, longest secrets first (so a secret that
//!   contains another is replaced whole).
//! - Very short values (under [`MIN_SECRET_LEN`] bytes) are not treated as secrets: replacing
//!   them would mangle ordinary text and they protect nothing.
//! - A secret is also caught in its encoded forms: base64 (standard and URL-safe alphabets,
//!   with and without padding, also inside a longer base64 text at any of its three byte
//!   alignments, as in `Basic base64(user:password)`), percent-encoding (upper- and lower-case
//!   hex, `+` for space) and JSON string escaping (so a secret inside an escaped JSON document
//!   quoted by an error is caught too). Alignment fragments shorter than
//!   [`MIN_ENCODED_FRAGMENT`] characters are not used: they would match ordinary text.
//! - `Debug` never prints the secrets.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;

pub const MIN_SECRET_LEN: usize = 4;
/// Shortest base64 fragment (of a secret inside a longer base64 text) that is masked.
pub const MIN_ENCODED_FRAGMENT: usize = 8;
pub const MASK: &str = "[redacted]";

/// Every form of `secret` that text may carry it in, the raw form first.
fn encoded_forms(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    let mut forms = vec![secret.to_string()];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes));
    }
    // Inside a longer base64 text the secret starts at byte offset 0, 1 or 2 of a 3-byte
    // group: the characters that depend on the secret's bytes alone are the same whatever
    // surrounds it.
    for shift in 0..3usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(bytes);
        let encoded = STANDARD_NO_PAD.encode(&shifted);
        let start = (8 * shift).div_ceil(6);
        let end = encoded.len() - usize::from((8 * shifted.len()) % 6 != 0);
        if end > start && end - start >= MIN_ENCODED_FRAGMENT {
            let fragment = &encoded[start..end];
            forms.push(fragment.to_string());
            forms.push(fragment.replace('+', "-").replace('/', "_"));
        }
    }
    for upper in [true, false] {
        forms.push(percent_encode(bytes, upper, false));
        forms.push(percent_encode(bytes, upper, true));
        forms.push(percent_encode_all(bytes, upper));
    }
    let escaped = serde_json::to_string(secret).expect("a string serialises");
    let escaped = &escaped[1..escaped.len() - 1];
    forms.push(escaped.to_string());
    forms.push(escaped.replace('/', "\\/"));
    // Escaped twice: a JSON document quoted inside another JSON string.
    let twice = serde_json::to_string(escaped).expect("a string serialises");
    forms.push(twice[1..twice.len() - 1].to_string());
    forms
}

/// Percent-encoding of everything but letters and digits (what stricter encoders emit).
fn percent_encode_all(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ if upper => format!("%{b:02X}"),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

/// RFC 3986 percent-encoding of everything but unreserved characters (`+` for space in
/// form encoding).
fn percent_encode(bytes: &[u8], upper: bool, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus_for_space => out.push('+'),
            _ if upper => out.push_str(&format!("%{b:02X}")),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// Stands where a secret is in a `Debug` impl: prints `<redacted>`, never the value.
pub struct Hidden;

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// For `Debug`: whether a secret is there (`Some(<redacted>)`), not what it is.
pub fn hidden<T>(secret: &Option<T>) -> Option<Hidden> {
    secret.as_ref().map(|_| Hidden)
}

/// For `Debug`: the names of `(name, value)` pairs (headers, environment variables), whose
/// values may be credentials or session ids.
pub fn names(pairs: &[(String, String)]) -> Vec<&str> {
    pairs.iter().map(|(name, _)| name.as_str()).collect()
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .flat_map(|s| encoded_forms(&s))
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Redacts every string (keys included) inside a JSON value.
    pub fn value(&self, value: Value) -> Value {
        if self.secrets.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k), self.value(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn debug_of_requests_replies_and_sessions_shows_no_header_value_or_session_id() {
        use crate::http::{HttpRequest, HttpResponse, Method};
        use crate::model::{ServerEndpoint, TransportPin};
        use crate::session::{MemorySessions, SessionState, SessionStore, TransportKind};
        use crate::streamable::Streamable;
        use crate::wire::{CancelRoute, InFlight};
        use futures::StreamExt;

        const BEARER: &str = "Bearer tok-9f8e7d6c5b4a";
        const SESSION: &str = "sess-1a2b3c4d5e6f";
        let headers = vec![
            ("Authorization".to_string(), BEARER.to_string()),
            ("Mcp-Session-Id".to_string(), SESSION.to_string()),
        ];
        let request = HttpRequest {
            method: Method::Post,
            url: "https://mcp.example/mcp".into(),
            headers: headers.clone(),
            body: Some(format!("{{\"token\":\"{BEARER}\"}}").into_bytes()),
        };
        let reply = HttpResponse {
            status: 200,
            headers: headers.clone(),
            body: futures::stream::empty().boxed_local(),
        };
        let in_flight = InFlight {
            id: 7,
            method: "tools/call".into(),
            route: CancelRoute::Post {
                url: "https://mcp.example/mcp".into(),
                headers: headers.clone(),
            },
        };
        let endpoint = ServerEndpoint {
            server_id: "srv".into(),
            url: "https://mcp.example/mcp".into(),
            headers: headers.clone(),
            transport: TransportPin::Auto,
        };
        let streamable = Streamable {
            session_id: Some(SESSION.into()),
            protocol_version: "2025-06-18".into(),
            tool_tasks: false,
        };
        let state = SessionState {
            transport: TransportKind::StreamableHttp,
            session_id: Some(SESSION.into()),
            protocol_version: None,
            url: "https://mcp.example/mcp".into(),
            tool_tasks: false,
        };
        let sessions = MemorySessions::new();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(sessions.put("srv", &serde_json::to_string(&state).unwrap(), 60));
        let shown = [
            format!("{request:?}"),
            format!("{reply:?}"),
            format!("{in_flight:?}"),
            format!("{endpoint:?}"),
            format!("{streamable:?}"),
            format!("{state:?}"),
            format!("{sessions:?}"),
        ];
        for text in &shown {
            assert!(!text.contains("tok-9f8e7d6c5b4a"), "{text}");
            assert!(!text.contains(SESSION), "{text}");
        }
        assert!(shown[0].contains("Authorization") && shown[0].contains("Mcp-Session-Id"));
        assert!(shown[4].contains("Some(<redacted>)"), "{}", shown[4]);
        assert!(shown[6].contains("srv"), "{}", shown[6]);
    }

    #[test]
    fn every_occurrence_in_nested_json_is_masked() {
        let r = Redactor::new(["sk-live-123".to_string(), "Bearer sk-live-123".to_string()]);
        let v = r.value(json!({"content": [{"type": "text", "text": "auth=Bearer sk-live-123; again sk-live-123"}], "sk-live-123": 1}));
        let text = v.to_string();
        assert!(!text.contains("sk-live-123"), "{text}");
        assert_eq!(v["content"][0]["text"], "auth=[redacted]; again [redacted]");
    }

    const SECRET: &str = "sk-live/4f9a+Zq ü\"x&y=z";

    fn assert_masked(r: &Redactor, carrier: &str, form: &str, what: &str) {
        assert!(carrier.contains(form), "{what}: the test carries the form");
        let out = r.text(carrier);
        assert!(!out.contains(form), "{what}: {out}");
        assert!(out.contains(MASK), "{what}: {out}");
    }

    #[test]
    fn base64_forms_are_masked_with_and_without_padding_in_both_alphabets() {
        let r = Redactor::new([SECRET.to_string()]);
        for (what, engine) in [
            ("standard", &STANDARD),
            ("standard, no padding", &STANDARD_NO_PAD),
            ("url-safe", &URL_SAFE),
            ("url-safe, no padding", &URL_SAFE_NO_PAD),
        ] {
            let form = engine.encode(SECRET);
            assert_masked(
                &r,
                &format!("upstream said: token={form}; bye"),
                &form,
                what,
            );
        }
    }

    #[test]
    fn base64_of_a_secret_inside_a_longer_value_is_masked_at_every_alignment() {
        let r = Redactor::new(["hunter2-password".to_string()]);
        for prefix in ["", "a", "ab", "alice:", "bob:"] {
            let whole = format!("{prefix}hunter2-password and more");
            for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&whole);
                let out = r.text(&format!("Authorization: Basic {encoded}"));
                assert!(!out.contains(&encoded), "{prefix:?}: {out}");
                // Whatever is left cannot be decoded back into the password.
                for piece in out.split(|c: char| !c.is_ascii_alphanumeric() && !"+/_-=".contains(c))
                {
                    let decoded = engine
                        .decode(piece.trim_end_matches('='))
                        .or_else(|_| STANDARD_NO_PAD.decode(piece.trim_end_matches('=')))
                        .unwrap_or_default();
                    assert!(
                        !String::from_utf8_lossy(&decoded).contains("hunter2"),
                        "{prefix:?}: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn percent_encoded_forms_are_masked() {
        let r = Redactor::new([SECRET.to_string()]);
        let upper = percent_encode(SECRET.as_bytes(), true, false);
        assert!(upper.contains("%2F") && upper.contains("%C3%BC"), "{upper}");
        assert_masked(
            &r,
            &format!("GET /cb?token={upper}&x=1"),
            &upper,
            "upper-case hex",
        );
        let lower = percent_encode(SECRET.as_bytes(), false, false);
        assert_masked(
            &r,
            &format!("GET /cb?token={lower}&x=1"),
            &lower,
            "lower-case hex",
        );
        let strict = percent_encode_all(SECRET.as_bytes(), false);
        assert!(strict.contains("%2d"), "{strict}");
        assert_masked(
            &r,
            &format!("token={strict}"),
            &strict,
            "every non-alphanumeric",
        );
        let form = percent_encode(SECRET.as_bytes(), true, true);
        assert!(form.contains('+'));
        assert_masked(&r, &format!("body: token={form}"), &form, "form encoding");
    }

    #[test]
    fn json_escaped_forms_are_masked() {
        let r = Redactor::new([SECRET.to_string()]);
        // A secret inside a JSON document that was itself put in a JSON string.
        let inner = json!({"token": SECRET}).to_string();
        let outer = json!({"error": inner}).to_string();
        let out = r.text(&outer);
        assert!(!out.contains("sk-live"), "{out}");
        // And the escaped form as such.
        let escaped = serde_json::to_string(SECRET).unwrap();
        assert_masked(
            &r,
            &format!("got {escaped}"),
            &escaped[1..escaped.len() - 1],
            "escaped",
        );
        // Through Redactor::value on a parsed body the raw form is what is left to catch.
        let v = r.value(json!({"echo": outer}));
        assert!(!v.to_string().contains("sk-live"), "{v}");
    }

    #[test]
    fn encoded_forms_do_not_mangle_ordinary_text() {
        let r = Redactor::new(["abcd".to_string()]);
        assert_eq!(r.text("the quick brown fox"), "the quick brown fox");
        assert_eq!(r.text("YWJjZA== abcd"), "[redacted] [redacted]");
    }

    #[test]
    fn tiny_values_are_not_secrets_and_debug_hides_them() {
        let r = Redactor::new(["ab".to_string(), "hunter22".to_string()]);
        assert_eq!(r.text("ab hunter22"), "ab [redacted]");
        assert!(!format!("{r:?}").contains("hunter22"));
        assert!(Redactor::default().is_empty());
    }
}
