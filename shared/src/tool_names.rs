//! Namespaced tool names: one name per (server, tool) of a team, valid for every major model
//! API and for MCP clients. Used by `list_tools` with a `format` and by the gateway's `/mcp`.
//!
//! The rule (README, "Tool names"):
//! 1. `base` = `<server>__<tool>`, each part with every character outside `[A-Za-z0-9_-]`
//!    replaced by `_`.
//! 2. The name is `base` when `base` is at most 64 characters, no character had to be
//!    replaced, and no other such tool of the team has the same `base` (`a__b` + `c` and
//!    `a` + `b__c` both read `a__b__c`).
//! 3. Otherwise it is `base` cut to 55 characters + `_` + the first 8 hex digits of
//!    SHA-256(`<server>` `\n` `<tool>`) (the original names, unchanged).
//!
//! Invariants:
//! - Every name matches `^[a-zA-Z0-9_-]{1,64}$`.
//! - Names are deterministic: the same team catalogue always gives the same names, whatever
//!   the order it is listed in; a readable name changes only if its own names change or
//!   another readable one starts to collide with it (rule 2); a hashed name never changes.
//! - Names within one call of [`assign`] are unique (a hash collision lengthens the suffix).

use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The longest name every major model API accepts.
pub const MAX_NAME_LEN: usize = 64;
/// Between the server part and the tool part.
pub const SEPARATOR: &str = "__";
const HASH_HEX: usize = 8;

/// `true` when `name` matches `^[a-zA-Z0-9_-]{1,64}$`.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.bytes().all(allowed)
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// `text` with each character outside the allowed set replaced by `_`, and whether any was.
fn sanitize(text: &str) -> (String, bool) {
    let mut changed = text.is_empty();
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && allowed(c as u8) {
                c
            } else {
                changed = true;
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    (out, changed)
}

/// Rule 1: the readable form, and whether it is usable as is (rule 2 without the collision).
fn base(server: &str, tool: &str) -> (String, bool) {
    let (s, s_changed) = sanitize(server);
    let (t, t_changed) = sanitize(tool);
    let base = format!("{s}{SEPARATOR}{t}");
    let clean = !s_changed && !t_changed && base.len() <= MAX_NAME_LEN;
    (base, clean)
}

/// Rule 3, with `hex_len` digits of the hash.
fn hashed(base: &str, server: &str, tool: &str, hex_len: usize) -> String {
    let digest = Sha256::digest(format!("{server}\n{tool}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let keep = MAX_NAME_LEN - 1 - hex_len;
    // `base` is ASCII (sanitised), so cutting at a byte index is safe.
    let head = &base[..base.len().min(keep)];
    format!("{head}_{}", &hex[..hex_len])
}

/// The names of `tools` (pairs of server name and tool name), in the same order.
pub fn assign<S: AsRef<str>, T: AsRef<str>>(tools: &[(S, T)]) -> Vec<String> {
    let bases: Vec<(String, bool)> = tools
        .iter()
        .map(|(s, t)| base(s.as_ref(), t.as_ref()))
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (b, _) in bases.iter().filter(|(_, clean)| *clean) {
        *count.entry(b.as_str()).or_default() += 1;
    }
    let mut names: Vec<String> = tools
        .iter()
        .zip(&bases)
        .map(|((s, t), (b, clean))| {
            if *clean && count[b.as_str()] == 1 {
                b.clone()
            } else {
                hashed(b, s.as_ref(), t.as_ref(), HASH_HEX)
            }
        })
        .collect();
    // A 32-bit hash collision (or a hashed name equal to another's clean one): every name
    // involved gets the full-length hash that fits.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for name in &names {
        *seen.entry(name.clone()).or_default() += 1;
    }
    if seen.values().any(|n| *n > 1) {
        for (i, (s, t)) in tools.iter().enumerate() {
            if seen[&names[i]] > 1 {
                names[i] = hashed(&bases[i].0, s.as_ref(), t.as_ref(), 32);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_read_as_server_then_tool() {
        assert_eq!(
            assign(&[("github", "create_issue"), ("time", "get-time")]),
            ["github__create_issue", "time__get-time"]
        );
    }

    #[test]
    fn every_name_is_valid_for_model_apis_whatever_the_input() {
        let long = "x".repeat(200);
        let inputs = [
            ("my server", "tool.name"),
            ("", ""),
            ("ünïcode", "工具"),
            (long.as_str(), long.as_str()),
            ("a/b", "c:d"),
            ("s", &long[..70]),
        ];
        for name in assign(&inputs) {
            assert!(is_valid(&name), "{name}");
        }
    }

    #[test]
    fn replaced_characters_get_a_hash_so_distinct_tools_never_share_a_name() {
        let names = assign(&[("srv", "a.b"), ("srv", "a:b"), ("srv", "a_b")]);
        assert_eq!(names[2], "srv__a_b");
        assert!(names[0].starts_with("srv__a_b_") && names[1].starts_with("srv__a_b_"));
        assert_ne!(names[0], names[1]);
        assert_ne!(names[0], names[2]);
    }

    #[test]
    fn colliding_bases_both_get_hashes_and_the_rule_ignores_order() {
        // "a__b" + "c" and "a" + "b__c" read the same.
        let one = assign(&[("a__b", "c"), ("a", "b__c")]);
        let two = assign(&[("a", "b__c"), ("a__b", "c")]);
        assert_ne!(one[0], one[1]);
        assert_eq!(one[0], two[1]);
        assert_eq!(one[1], two[0]);
        assert!(one
            .iter()
            .all(|n| n.starts_with("a__b__c_") && n.len() == 16));
    }

    #[test]
    fn long_names_are_cut_with_a_hash_of_the_originals() {
        let tool = "t".repeat(80);
        let other = format!("{}u", "t".repeat(79));
        let names = assign(&[("server", tool.as_str()), ("server", other.as_str())]);
        assert_eq!(names[0].len(), MAX_NAME_LEN);
        assert!(names[0].starts_with("server__ttt"));
        assert_ne!(names[0], names[1], "same prefix, different tools");
        // Deterministic: the same inputs give the same names.
        assert_eq!(names, assign(&[("server", tool), ("server", other)]));
    }

    #[test]
    fn validity_is_the_model_api_pattern() {
        assert!(is_valid("a-b_C9"));
        assert!(!is_valid(""));
        assert!(!is_valid("a.b"));
        assert!(!is_valid(&"a".repeat(65)));
        assert!(is_valid(&"a".repeat(64)));
    }
}
