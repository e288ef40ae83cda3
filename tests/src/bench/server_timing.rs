//! Reads `Server-Timing` response headers (W3C Server Timing: `name;dur=1.23;desc="…", …`)
//! generically: every metric that carries a `dur` is kept under its name, whatever the names
//! are (the gateway's own stages and the action worker's, relayed with an `a-` prefix).
//! Metrics without `dur` are counted but carry no duration.

use std::collections::BTreeMap;

/// One metric of a `Server-Timing` header.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    /// `dur` in milliseconds, when present and numeric.
    pub dur_ms: Option<f64>,
}

/// Parses one header value; malformed metrics (no name) are skipped.
pub fn parse(value: &str) -> Vec<Metric> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter_map(|metric| {
            let mut parts = split_outside_quotes(&metric, ';').into_iter();
            let name = parts.next()?.trim().to_string();
            if name.is_empty() {
                return None;
            }
            let dur_ms = parts.find_map(|param| {
                let (key, value) = param.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("dur")
                    .then(|| value.trim().trim_matches('"').parse::<f64>().ok())
                    .flatten()
            });
            Some(Metric { name, dur_ms })
        })
        .collect()
}

/// Splits at `sep` except inside double-quoted strings (with `\` escapes).
fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let (mut parts, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// Durations per metric name over many responses, names in order of first appearance.
#[derive(Default, Debug)]
pub struct Stages {
    order: Vec<String>,
    durations: BTreeMap<String, Vec<f64>>,
    /// Responses seen, and those that carried at least one `Server-Timing` header.
    pub responses: usize,
    pub with_header: usize,
}

impl Stages {
    /// Adds one response's `Server-Timing` header values (none: counted as absent).
    pub fn add<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) {
        self.responses += 1;
        let mut seen = false;
        for value in values {
            seen = true;
            for metric in parse(value) {
                if !self.durations.contains_key(&metric.name) {
                    self.order.push(metric.name.clone());
                }
                let entry = self.durations.entry(metric.name).or_default();
                if let Some(dur) = metric.dur_ms {
                    entry.push(dur);
                }
            }
        }
        if seen {
            self.with_header += 1;
        }
    }

    /// (name, samples with a duration, p50 ms) in order of first appearance.
    pub fn p50s(&self) -> Vec<(String, usize, f64)> {
        self.order
            .iter()
            .map(|name| {
                let d = &self.durations[name];
                (name.clone(), d.len(), super::stats::median_ms(d))
            })
            .collect()
    }

    /// The mean duration of `name` in ms (`None`: never seen with a duration). The runtime's
    /// clock moves in whole milliseconds, so a stage's median is 0 or 1 where its mean over
    /// many calls still says how long it takes.
    pub fn mean(&self, name: &str) -> Option<f64> {
        let d = self.durations.get(name).filter(|d| !d.is_empty())?;
        Some(d.iter().sum::<f64>() / d.len() as f64)
    }

    /// The sum of the means of every stage whose name starts with `prefix`.
    pub fn mean_sum(&self, prefix: &str) -> f64 {
        self.order
            .iter()
            .filter(|name| name.starts_with(prefix))
            .filter_map(|name| self.mean(name))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_keep_their_names_and_durations_in_order() {
        let m = parse(
            "auth;dur=0.4, team;desc=\"DO, gate\";dur=1.5,a-upstream;dur=2 , total;dur=\"7.25\"",
        );
        let names: Vec<_> = m.iter().map(|m| (m.name.as_str(), m.dur_ms)).collect();
        assert_eq!(
            names,
            [
                ("auth", Some(0.4)),
                ("team", Some(1.5)),
                ("a-upstream", Some(2.0)),
                ("total", Some(7.25))
            ]
        );
    }

    #[test]
    fn metrics_without_a_duration_or_a_name_carry_none() {
        let m = parse("miss, ;dur=3, cache;desc=hit");
        assert_eq!(
            m,
            [
                Metric {
                    name: "miss".into(),
                    dur_ms: None
                },
                Metric {
                    name: "cache".into(),
                    dur_ms: None
                }
            ]
        );
    }

    #[test]
    fn stages_take_the_median_per_name_and_count_absent_headers() {
        let mut s = Stages::default();
        s.add(["a;dur=1, b;dur=10"]);
        s.add(["b;dur=30", "a;dur=3"]);
        s.add(["a;dur=2"]);
        s.add([]);
        assert_eq!((s.responses, s.with_header), (4, 3));
        assert_eq!(
            s.p50s(),
            [("a".to_string(), 3, 2.0), ("b".to_string(), 2, 30.0)]
        );
    }

    #[test]
    fn means_average_whole_milliseconds_and_sum_by_prefix() {
        let mut s = Stages::default();
        s.add(["total;dur=10, a-start;dur=1, a-upstream;dur=4"]);
        s.add(["total;dur=11, a-start;dur=0, a-upstream;dur=5"]);
        s.add(["total;dur=9, a-upstream;dur=6"]);
        assert_eq!(s.mean("total"), Some(10.0));
        assert_eq!(s.mean("a-start"), Some(0.5));
        assert_eq!(s.mean("missing"), None);
        assert_eq!(s.mean_sum("a-"), 5.5);
    }
}
