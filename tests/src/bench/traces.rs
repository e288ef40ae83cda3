//! What the workers did, counted from the local runtime's own trace store.
//!
//! `wrangler dev` (4.x) records every invocation and every binding call as spans in a SQLite
//! file under the state directory (`v3/observability/miniflare-wobs-trace-store/<hash>.sqlite`,
//! table `spans(service, name, kind, parent_id, attributes, …)`): `http` spans for each worker
//! invocation (the gateway's, each Durable Object request's, each Service Binding target's),
//! `d1_all`/`d1_run`/`d1_batch` for D1 queries, `kv_get`/`kv_put`/`kv_delete`,
//! `durable_object_subrequest` and `durable_object_storage_exec` (one per SQL statement in an
//! object's storage), and `fetch` for outbound requests. Counting spans before and after a load
//! phase gives the storage trips per call without instrumenting the workers.
//!
//! Object requests are counted from their callers' `fetch` spans to the object's host: the
//! `durable_object_subrequest` span and the object's own `http` span do not always reach the
//! store with their caller's (they are written later, or not at all, in this wrangler). The
//! internal `fetch` a D1 query makes is the query's, not counted again.
//!
//! Attributes are stored in a compact binary encoding: strings are a tag byte then the bytes
//! (short: length in the high nibble, low nibble 3 or 7; `0xc?` one length byte; `0xd?` two).
//! Only `db.query.text`, `url.full` and the D1 row counters are read from it; when the format
//! changes those read as absent and the counts by span name remain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// The host the workers reach the team's object at (`RATE_LIMITER` stubs:
/// `https://rate-limiter.internal/check`, `/ledger/start`, …).
const OBJECT_HOST: &str = "rate-limiter.internal";

/// The trace store of a state directory, if the runtime keeps one.
pub fn store(state: &Path) -> Option<PathBuf> {
    sqlite_in(&state.join("v3/observability/miniflare-wobs-trace-store"))
}

/// The local D1 database file of a state directory.
pub fn d1_file(state: &Path) -> Option<PathBuf> {
    sqlite_in(&state.join("v3/d1/miniflare-D1DatabaseObject"))
}

/// The one data file of a local simulator's folder (its `metadata.sqlite` aside).
fn sqlite_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "sqlite")
                && p.file_name().is_some_and(|n| n != "metadata.sqlite")
        })
}

/// Span counts by category, and D1's own row counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// e.g. "gateway http", "call-tool d1_run", keyed by short service name and span name.
    pub spans: BTreeMap<String, u64>,
    pub d1_queries: u64,
    /// D1 queries whose statements write (INSERT, UPDATE, DELETE, UPSERT).
    pub d1_write_queries: u64,
    /// Statements in those writing queries (a batch counts each of its statements).
    pub d1_write_statements: u64,
    pub d1_rows_written: u64,
    pub d1_rows_read: u64,
    pub kv_reads: u64,
    pub kv_writes: u64,
    /// Requests to the team's object (its callers' fetches; alarms are not among them).
    pub do_requests: u64,
    pub do_sql_statements: u64,
    /// Worker invocations: the `http` spans of the gateway and of Service Binding targets.
    pub invocations: u64,
    pub service_binding_calls: u64,
}

impl Counts {
    /// `self − before`, field by field.
    pub fn since(&self, before: &Counts) -> Counts {
        let mut spans = self.spans.clone();
        for (k, v) in spans.iter_mut() {
            *v -= before.spans.get(k).copied().unwrap_or(0).min(*v);
        }
        Counts {
            spans,
            d1_queries: self.d1_queries - before.d1_queries,
            d1_write_queries: self.d1_write_queries - before.d1_write_queries,
            d1_write_statements: self.d1_write_statements - before.d1_write_statements,
            d1_rows_written: self.d1_rows_written - before.d1_rows_written,
            d1_rows_read: self.d1_rows_read - before.d1_rows_read,
            kv_reads: self.kv_reads - before.kv_reads,
            kv_writes: self.kv_writes - before.kv_writes,
            do_requests: self.do_requests - before.do_requests,
            do_sql_statements: self.do_sql_statements - before.do_sql_statements,
            invocations: self.invocations - before.invocations,
            service_binding_calls: self.service_binding_calls - before.service_binding_calls,
        }
    }
}

/// Counts every span in the store at `path` (read-only; the runtime keeps writing).
pub fn count(path: &Path) -> Result<Counts, String> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    db.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let mut stmt = db
        .prepare(
            "SELECT s.service, s.name, s.kind, s.attributes, p.kind \
             FROM spans s LEFT JOIN spans p ON p.trace_id = s.trace_id AND p.span_id = s.parent_id",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut c = Counts::default();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let service: String = row
            .get::<_, Option<String>>(0)
            .ok()
            .flatten()
            .unwrap_or_default();
        let name: String = row
            .get::<_, Option<String>>(1)
            .ok()
            .flatten()
            .unwrap_or_default();
        let kind: String = row
            .get::<_, Option<String>>(2)
            .ok()
            .flatten()
            .unwrap_or_default();
        let attributes: Vec<u8> = row
            .get::<_, Option<Vec<u8>>>(3)
            .ok()
            .flatten()
            .unwrap_or_default();
        let parent_kind: String = row
            .get::<_, Option<String>>(4)
            .ok()
            .flatten()
            .unwrap_or_default();
        let url = if kind == "fetch" || kind == "http" {
            attr(&attributes, "url.full").unwrap_or_default()
        } else {
            String::new()
        };
        let to_object = url.contains(OBJECT_HOST);
        // The internal fetch a D1 query makes is the same trip as the query.
        if kind == "fetch" && (parent_kind == "d1" || url.starts_with("http://d1/")) {
            continue;
        }
        let short = service.strip_prefix("mcp-edge-").unwrap_or(&service);
        let label = match (kind.as_str(), to_object) {
            ("fetch", true) => "object request".to_string(),
            ("http", true) => "object invocation".to_string(),
            _ => name.clone(),
        };
        *c.spans.entry(format!("{short} {label}")).or_default() += 1;
        match kind.as_str() {
            // An object's own invocation span is not always in the store when its caller's
            // is: objects are counted by their callers' fetches below.
            "http" if !to_object => c.invocations += 1,
            "d1" => {
                c.d1_queries += 1;
                let text = attr(&attributes, "db.query.text").unwrap_or_default();
                let writes = writing_statements(&text);
                if writes > 0 {
                    c.d1_write_queries += 1;
                    c.d1_write_statements += writes;
                }
                c.d1_rows_written += attr_u64(&attributes, "cloudflare.d1.response.rows_written");
                c.d1_rows_read += attr_u64(&attributes, "cloudflare.d1.response.rows_read");
            }
            "kv" if name == "kv_get" || name == "kv_list" => c.kv_reads += 1,
            "kv" => c.kv_writes += 1,
            "do" if name == "durable_object_storage_exec" => c.do_sql_statements += 1,
            "fetch" if to_object => c.do_requests += 1,
            "fetch" if url.contains(".internal/") => c.service_binding_calls += 1,
            _ => {}
        }
    }
    Ok(c)
}

/// [`count`] once the counts stop moving: spans land shortly after their requests end.
pub fn count_settled(path: &Path) -> Result<Counts, String> {
    let mut last = count(path)?;
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = count(path)?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Statements of a query text that write: a batch's statements are joined by a newline,
/// which the trace store keeps as the two characters `\n`.
fn writing_statements(text: &str) -> u64 {
    text.replace("\\n", "\n")
        .split('\n')
        .filter(|s| {
            let head = s.trim_start().get(..7).unwrap_or("").to_ascii_uppercase();
            ["INSERT", "UPDATE", "DELETE", "REPLACE"]
                .iter()
                .any(|verb| head.starts_with(verb))
        })
        .count() as u64
}

/// The string value of attribute `key` in the binary encoding (see the module doc).
pub fn attr(blob: &[u8], key: &str) -> Option<String> {
    let at = find(blob, key.as_bytes())? + key.len();
    let tag = *blob.get(at)?;
    let (len, start) = match tag {
        0xc0..=0xcf => (*blob.get(at + 1)? as usize, at + 2),
        0xd0..=0xdf => (
            u16::from_be_bytes([*blob.get(at + 1)?, *blob.get(at + 2)?]) as usize,
            at + 3,
        ),
        t if t & 0x0f == 3 || t & 0x0f == 7 => ((t >> 4) as usize, at + 1),
        _ => return None,
    };
    let bytes = blob.get(start..start + len)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

fn attr_u64(blob: &[u8], key: &str) -> u64 {
    attr(blob, key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_in_their_short_one_and_two_byte_length_forms() {
        let mut blob = vec![0xdc, 0x01, 0x00];
        blob.extend([0xc7, 13]);
        blob.extend(b"db.query.text");
        blob.extend([0xd8, 0x01, 0x2c]);
        let text =
            "INSERT INTO x VALUES (1)\nUPDATE y SET a = 1".to_string() + &" ".repeat(300 - 43);
        blob.extend(text.as_bytes());
        blob.extend([0xc7, 0x23]);
        blob.extend(b"cloudflare.d1.response.rows_written");
        blob.extend([0x13, b'7']);
        blob.extend([0x87]);
        blob.extend(b"url.full");
        blob.extend([0x37]);
        blob.extend(b"abc");
        assert_eq!(attr(&blob, "db.query.text").as_deref(), Some(text.as_str()));
        assert_eq!(attr_u64(&blob, "cloudflare.d1.response.rows_written"), 7);
        assert_eq!(attr(&blob, "url.full").as_deref(), Some("abc"));
        assert_eq!(attr(&blob, "missing"), None);
    }

    #[test]
    fn only_writing_statements_of_a_batch_count_as_writes() {
        assert_eq!(writing_statements("SELECT 1"), 0);
        assert_eq!(
            writing_statements("UPDATE a SET x = 1\n  insert into b VALUES (1)\nSELECT 2"),
            2
        );
        assert_eq!(
            writing_statements("UPDATE a SET x = 1\\nUPDATE b SET y = 2"),
            2
        );
    }
}
