//! Newline-delimited reading with a hard cap on line length.
//!
//! Invariants: memory per reader is bounded by `max` plus a small head and tail sample, however
//! long a line the child writes; an over-long line is consumed up to its newline and reported
//! as `Line::Oversized` (with its first and last `SAMPLE` bytes, so the caller can find the
//! JSON-RPC id it answers) and the next line reads normally.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Bytes kept from each end of an oversized line.
pub const SAMPLE: usize = 512;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Complete(Vec<u8>),
    Oversized {
        len: usize,
        head: Vec<u8>,
        tail: Vec<u8>,
    },
}

pub struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader { inner, max }
    }

    /// The next line without its terminator, or `None` at end of input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut buf: Vec<u8> = Vec::new();
        let mut over: Option<(usize, Vec<u8>, Vec<u8>)> = None;
        let mut saw_any = false;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                return Ok(Some(finish(buf, over)));
            }
            saw_any = true;
            let (chunk_len, consumed, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (i, i + 1, true),
                None => (available.len(), available.len(), false),
            };
            let chunk = &available[..chunk_len];
            match over.as_mut() {
                Some((len, _head, tail)) => {
                    *len += chunk.len();
                    push_tail(tail, chunk);
                }
                None if buf.len() + chunk.len() > self.max => {
                    let mut head = buf.clone();
                    head.extend_from_slice(&chunk[..chunk.len().min(SAMPLE)]);
                    head.truncate(SAMPLE);
                    let mut tail = Vec::new();
                    push_tail(&mut tail, &buf);
                    push_tail(&mut tail, chunk);
                    over = Some((buf.len() + chunk.len(), head, tail));
                    buf = Vec::new();
                }
                None => buf.extend_from_slice(chunk),
            }
            self.inner.consume(consumed);
            if done {
                return Ok(Some(finish(buf, over)));
            }
        }
    }
}

fn push_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    let chunk = &chunk[chunk.len().saturating_sub(SAMPLE)..];
    tail.extend_from_slice(chunk);
    if tail.len() > SAMPLE {
        tail.drain(..tail.len() - SAMPLE);
    }
}

fn finish(mut buf: Vec<u8>, over: Option<(usize, Vec<u8>, Vec<u8>)>) -> Line {
    match over {
        Some((len, head, tail)) => Line::Oversized { len, head, tail },
        None => {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            Line::Complete(buf)
        }
    }
}

/// Numeric JSON-RPC ids that appear as `"id":N` keys in a fragment of serialized JSON.
///
/// Used only on oversized lines, where the full message cannot be parsed; the caller checks
/// each candidate against its in-flight ids. String contents are escaped in JSON, so a quoted
/// `"id":` here is a key, not text inside a value.
pub fn candidate_ids(fragment: &[u8]) -> Vec<u64> {
    let needle = b"\"id\"";
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= fragment.len() {
        if &fragment[i..i + needle.len()] == needle {
            let mut j = i + needle.len();
            while j < fragment.len() && fragment[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < fragment.len() && fragment[j] == b':' {
                j += 1;
                while j < fragment.len() && fragment[j].is_ascii_whitespace() {
                    j += 1;
                }
                let start = j;
                while j < fragment.len() && fragment[j].is_ascii_digit() {
                    j += 1;
                }
                if j > start {
                    if let Ok(n) = std::str::from_utf8(&fragment[start..j])
                        .unwrap_or("")
                        .parse()
                    {
                        out.push(n);
                    }
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn read_all(input: &[u8], max: usize, cap: usize) -> Vec<Line> {
        let mut r = LineReader::new(BufReader::with_capacity(cap, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_keeps_an_unterminated_last_line() {
        let lines = read_all(b"a\r\nbb\n\nccc", 10, 2).await;
        assert_eq!(
            lines,
            vec![
                Line::Complete(b"a".to_vec()),
                Line::Complete(b"bb".to_vec()),
                Line::Complete(b"".to_vec()),
                Line::Complete(b"ccc".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn over_long_line_is_reported_and_the_next_line_reads() {
        let mut input = b"{\"id\":7,\"x\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend(b"\"}\nok\n");
        let lines = read_all(&input, 100, 64).await;
        assert_eq!(lines.len(), 2);
        match &lines[0] {
            Line::Oversized { len, head, tail } => {
                assert_eq!(*len, input.len() - 4);
                assert!(head.starts_with(b"{\"id\":7"));
                assert!(tail.ends_with(b"xx\"}"));
                assert!(head.len() <= SAMPLE && tail.len() <= SAMPLE);
                assert_eq!(candidate_ids(head), vec![7]);
            }
            other => panic!("expected oversized, got {other:?}"),
        }
        assert_eq!(lines[1], Line::Complete(b"ok".to_vec()));
    }

    #[test]
    fn finds_id_keys_but_not_escaped_text() {
        assert_eq!(
            candidate_ids(br#"{"result":{},"jsonrpc":"2.0","id": 42}"#),
            vec![42]
        );
        assert_eq!(candidate_ids(br#"{"text":"\"id\":9"}"#), Vec::<u64>::new());
        assert_eq!(candidate_ids(br#""id":"s""#), Vec::<u64>::new());
    }
}
