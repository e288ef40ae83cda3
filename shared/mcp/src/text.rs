//! Turning what an upstream said into text a team admin can act on.
//!
//! Invariants:
//! - Every string that leaves here is bounded (a few hundred characters) and free of control
//!   characters, so a hostile or broken server cannot flood a log line or an error body.
//! - [`Redactor`] removes every configured header value from upstream text: credentials travel
//!   in headers and a server that echoes them back must not make us leak them.

/// At most `max` characters of `s`, control characters replaced, `…` appended when cut.
pub fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in s.trim().chars().enumerate() {
        if count == max {
            out.push('…');
            return out;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// Scrubs known secret values out of upstream text, in their encoded forms too (it is
/// [`crate::redact::Redactor`] over the header values and their parts).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    inner: crate::redact::Redactor,
}

impl Redactor {
    /// Every header value of at least 4 characters counts as a secret, and so does each
    /// whitespace-separated part of it (`Bearer abc…` is echoed as `abc…` just as often).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> = Vec::new();
        for v in values {
            for part in std::iter::once(v).chain(v.split_whitespace()) {
                if part.len() >= 8 || (part.len() >= 4 && part == v) {
                    secrets.push(part.to_string());
                }
            }
        }
        Redactor {
            inner: crate::redact::Redactor::new(secrets),
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        self.inner.text(text)
    }
}

/// A short description of a non-JSON-RPC body for an error message.
pub fn describe_body(content_type: Option<&str>, body: &[u8]) -> String {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "an empty body".into();
    }
    if ct.contains("html") || trimmed.starts_with('<') {
        let title = trimmed
            .find("<title>")
            .and_then(|start| {
                let rest = &trimmed[start + 7..];
                rest.find("</title>").map(|end| clip(&rest[..end], 80))
            })
            .filter(|t| !t.is_empty());
        return match title {
            Some(t) => format!("an HTML page titled \"{t}\""),
            None => "an HTML page".into(),
        };
    }
    format!("\"{}\"", clip(trimmed, 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_and_cleans() {
        assert_eq!(clip("  abc\n", 10), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("a\u{0}b", 10), "a b");
    }

    #[test]
    fn redactor_removes_header_values_and_their_tokens() {
        let r = Redactor::new(["Bearer sk-live-1234567890", "abc"]);
        let s = r.scrub("auth Bearer sk-live-1234567890 / token sk-live-1234567890 / abc");
        assert!(!s.contains("sk-live"), "{s}");
        assert!(
            s.contains("abc"),
            "values under 4 chars are too short to be secrets: {s}"
        );
        use base64::Engine;
        let echoed = base64::engine::general_purpose::STANDARD.encode("sk-live-1234567890");
        assert_eq!(r.scrub(&format!("saw {echoed}")), "saw [redacted]");
    }

    #[test]
    fn describes_html_and_text() {
        assert_eq!(
            describe_body(
                Some("text/html"),
                b"<html><title>502 Bad Gateway</title></html>"
            ),
            "an HTML page titled \"502 Bad Gateway\""
        );
        assert_eq!(describe_body(None, b""), "an empty body");
        assert_eq!(describe_body(Some("text/plain"), b"nope"), "\"nope\"");
    }
}
