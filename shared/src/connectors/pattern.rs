//! The `pattern` of a catalogue parameter: one character class and a length, written like the
//! regular expression it is (`[A-Za-z0-9_.-]{1,64}`, `[a-z]+`), implicitly anchored at both
//! ends. Nothing else of regular expressions is accepted, so a pattern is easy to read and
//! cheap to check (no regex engine in the workers).
//!
//! Invariants: a [`Pattern`] only parses from that form; inside the class `a-b` is a range
//! (both ends ASCII letters or digits, in order), a `-` first or last is literal, and `\` is
//! not supported; quantifiers are `+` (1..), `*` (0..), `{n}` or `{n,m}` with `n <= m`.

use std::ops::RangeInclusive;

/// A parsed pattern; [`Pattern::matches`] checks a whole value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    ranges: Vec<RangeInclusive<char>>,
    min: usize,
    max: usize,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let bad = |why: &str| Err(format!("pattern {text:?} {why}"));
        let Some(rest) = text.strip_prefix('[') else {
            return bad("must start with a character class '[…]'");
        };
        let Some((class, quantifier)) = rest.split_once(']') else {
            return bad("has no closing ']'");
        };
        let chars: Vec<char> = class.chars().collect();
        if chars.is_empty() || chars.contains(&'\\') || chars.contains(&'[') || chars[0] == '^' {
            return bad("has an empty, negated or escaped class");
        }
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                let end = chars[i + 2];
                if !(c.is_ascii_alphanumeric() && end.is_ascii_alphanumeric() && c <= end) {
                    return bad(&format!("has a bad range {c}-{end}"));
                }
                ranges.push(c..=end);
                i += 3;
            } else {
                ranges.push(c..=c);
                i += 1;
            }
        }
        let (min, max) = match quantifier {
            "+" => (1, usize::MAX),
            "*" => (0, usize::MAX),
            q => {
                let Some(inner) = q.strip_prefix('{').and_then(|q| q.strip_suffix('}')) else {
                    return bad("must end with +, *, {n} or {n,m}");
                };
                let num = |s: &str| s.trim().parse::<usize>().ok();
                match inner.split_once(',') {
                    None => match num(inner) {
                        Some(n) => (n, n),
                        None => return bad("has a bad {n}"),
                    },
                    Some((a, b)) => match (num(a), num(b)) {
                        (Some(a), Some(b)) if a <= b => (a, b),
                        _ => return bad("has a bad {n,m}"),
                    },
                }
            }
        };
        Ok(Pattern { ranges, min, max })
    }

    /// Whether all of `value` is characters of the class, as many as the quantifier says.
    pub fn matches(&self, value: &str) -> bool {
        let n = value.chars().count();
        n >= self.min
            && n <= self.max
            && value
                .chars()
                .all(|c| self.ranges.iter().any(|r| r.contains(&c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_one_class_and_a_length() {
        let p = Pattern::parse("[A-Za-z0-9_+/-]{1,64}").unwrap();
        assert!(p.matches("Europe/Paris") && p.matches("UTC") && p.matches("Etc/GMT+5"));
        assert!(!p.matches("") && !p.matches("a b") && !p.matches(&"a".repeat(65)));
        assert!(!p.matches("ü"));
        let plus = Pattern::parse("[a-z]+").unwrap();
        assert!(plus.matches("abc") && !plus.matches("") && !plus.matches("aBc"));
        assert!(Pattern::parse("[a-z]*").unwrap().matches(""));
        assert!(Pattern::parse("[0-9]{3}").unwrap().matches("123"));
        assert!(!Pattern::parse("[0-9]{3}").unwrap().matches("12"));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "a-z",
            "[a-z]",
            "[a-z]?",
            "[^a]+",
            "[]+",
            "[a\\-z]+",
            "[z-a]+",
            "[a-z]{3,1}",
            "[a-z]{x}",
            "(a|b)",
            "[a-z]+$",
            "[[a]+",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
