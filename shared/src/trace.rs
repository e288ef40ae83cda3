//! W3C Trace Context (`traceparent`): the trace a request belongs to, accepted from the PWA
//! and passed on to the upstream MCP servers, so one request can be followed from the browser
//! through the gateway and the action worker to the server by one trace id.
//!
//! Invariants:
//! - A header is accepted only in the W3C format: `version-traceid-parentid-flags`, lowercase
//!   hex, version not `ff`, trace id 32 hex not all zero, parent id 16 hex not all zero, flags
//!   2 hex; version `00` is exactly 55 characters, a later version at least 55 with a `-`
//!   after the flags (its extra fields are dropped). Anything else starts a new trace.
//! - What we send on is always version `00` with the trace id and flags kept, and our own
//!   span id (one per request) as the parent id.
//! - Pure: the random ids are passed in.

use serde::{Deserialize, Serialize};

/// The header's name.
pub const HEADER: &str = "traceparent";

/// One request's place in a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// 32 lowercase hex.
    pub trace_id: String,
    /// This request's span: 16 lowercase hex (the parent id of what we send on).
    pub span_id: String,
    /// 2 lowercase hex (`01`: sampled).
    pub flags: String,
}

impl TraceContext {
    /// The caller's trace when `header` is a valid `traceparent`, else a new one (sampled);
    /// either way with `span_id` as this request's span. `random_hex` answers at least 48
    /// random hex characters (e.g. two UUIDs without dashes).
    pub fn continue_or_start(header: Option<&str>, random_hex: &str) -> TraceContext {
        let span_id = random_hex[..16].to_string();
        match header.and_then(parse) {
            Some((trace_id, flags)) => TraceContext {
                trace_id,
                span_id,
                flags,
            },
            None => TraceContext {
                trace_id: random_hex[16..48].to_string(),
                span_id,
                flags: "01".into(),
            },
        }
    }

    /// The `traceparent` to send on: `00-<trace id>-<our span id>-<flags>`.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }

    /// A context from a header we produced (the envelope's), or `None` when it is not valid.
    pub fn from_header(header: &str) -> Option<TraceContext> {
        let (trace_id, flags) = parse(header)?;
        Some(TraceContext {
            trace_id,
            span_id: header[36..52].to_string(),
            flags,
        })
    }
}

/// The trace id and flags of a valid `traceparent`.
fn parse(header: &str) -> Option<(String, String)> {
    let h = header.trim();
    let valid_length = match h.get(..2)? {
        "00" => h.len() == 55,
        "ff" => false,
        _ => h.len() == 55 || (h.len() > 55 && h.as_bytes()[55] == b'-'),
    };
    if !valid_length {
        return None;
    }
    let head = &h[..55];
    let parts: Vec<&str> = head.split('-').collect();
    let [version, trace_id, parent_id, flags] = parts.as_slice() else {
        return None;
    };
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    (lower_hex(version, 2)
        && lower_hex(trace_id, 32)
        && nonzero(trace_id)
        && lower_hex(parent_id, 16)
        && nonzero(parent_id)
        && lower_hex(flags, 2))
    .then(|| (trace_id.to_string(), flags.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "1111111111111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_keeps_its_trace_id_and_flags_with_our_span() {
        let ctx = TraceContext::continue_or_start(Some(VALID), RANDOM);
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.flags, "01");
        assert_eq!(
            ctx.header(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
        );
        assert_eq!(TraceContext::from_header(&ctx.header()), Some(ctx));
    }

    #[test]
    fn a_later_version_is_read_by_its_first_four_fields() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next";
        let ctx = TraceContext::continue_or_start(Some(later), RANDOM);
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.flags, "00");
        assert!(ctx.header().starts_with("00-"));
    }

    #[test]
    fn an_invalid_or_absent_header_starts_a_new_sampled_trace() {
        let invalid = [
            "",
            "garbage",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // 00 with extra
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", // misplaced dash
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", // not hex
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // later, no dash
        ];
        for header in invalid.into_iter().map(Some).chain([None]) {
            let ctx = TraceContext::continue_or_start(header, RANDOM);
            assert_eq!(ctx.trace_id, "a".repeat(32), "{header:?}");
            assert_eq!(ctx.span_id, "1".repeat(16), "{header:?}");
            assert_eq!(ctx.flags, "01", "{header:?}");
        }
    }
}
