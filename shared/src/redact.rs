//! Scrubbing credential values out of anything we store or answer. A tool may echo what it
//! was sent (a debugging tool printing its headers, an error quoting the request): the
//! gateway must still never hand a credential to the PWA or write it to an execution row.
//!
//! Invariants:
//! - Every occurrence of every secret is replaced, longest secrets first (so a secret that
//!   contains another is replaced whole).
//! - Very short values (under [`MIN_SECRET_LEN`] bytes) are not treated as secrets: replacing
//!   them would mangle ordinary text and they protect nothing.
//! - `Debug` never prints the secrets.

use serde_json::Value;

pub const MIN_SECRET_LEN: usize = 4;
pub const MASK: &str = "[redacted]";

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
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
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
    fn every_occurrence_in_nested_json_is_masked() {
        let r = Redactor::new(["sk-live-123".to_string(), "Bearer sk-live-123".to_string()]);
        let v = r.value(json!({"content": [{"type": "text", "text": "auth=Bearer sk-live-123; again sk-live-123"}], "sk-live-123": 1}));
        let text = v.to_string();
        assert!(!text.contains("sk-live-123"), "{text}");
        assert_eq!(v["content"][0]["text"], "auth=[redacted]; again [redacted]");
    }

    #[test]
    fn tiny_values_are_not_secrets_and_debug_hides_them() {
        let r = Redactor::new(["ab".to_string(), "hunter22".to_string()]);
        assert_eq!(r.text("ab hunter22"), "ab [redacted]");
        assert!(!format!("{r:?}").contains("hunter22"));
        assert!(Redactor::default().is_empty());
    }
}
