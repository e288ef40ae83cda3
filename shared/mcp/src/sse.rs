//! Incremental Server-Sent Events parser (the WHATWG `text/event-stream` rules) with size caps.
//!
//! Invariants:
//! - Bytes may arrive split anywhere (inside a line, inside a UTF-8 sequence, between the `\r`
//!   and `\n` of a CRLF): the parser keeps partial state, so framing never depends on chunking.
//! - Lines end in `\n`, `\r\n` or `\r`; lines starting with `:` are comments; a blank line
//!   dispatches the event; an event with no data (e.g. the empty priming event MCP servers send)
//!   is not dispatched, but its `id:` still moves the last event id.
//! - Memory is bounded: one event (its pending line plus its data) may not exceed `max_event`
//!   bytes and a whole stream may not exceed `max_total` bytes; exceeding either is an
//!   [`crate::McpError::Protocol`], never an allocation without bound.

use std::collections::VecDeque;

use futures::StreamExt;

use crate::error::{McpError, Result};
use crate::http::ByteStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, `"message"` when absent.
    pub event: String,
    pub data: String,
    /// The last event id at the time this event was dispatched.
    pub id: Option<String>,
}

#[derive(Debug)]
pub struct SseParser {
    max_event: usize,
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` at the start of the next one is part of it.
    pending_cr: bool,
    started: bool,
    event_type: String,
    data: String,
    has_data: bool,
    last_event_id: Option<String>,
    retry_ms: Option<u64>,
}

impl SseParser {
    pub fn new(max_event: usize) -> Self {
        SseParser {
            max_event,
            line: Vec::new(),
            pending_cr: false,
            started: false,
            event_type: String::new(),
            data: String::new(),
            has_data: false,
            last_event_id: None,
            retry_ms: None,
        }
    }

    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The latest `retry:` value the server sent, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Feeds one chunk; completed events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<()> {
        let mut rest = chunk;
        // An empty chunk says nothing about whether the `\n` of a `\r\n` follows: keep waiting.
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(pos) => {
                    self.push_line_bytes(&rest[..pos])?;
                    let ended_with_cr = rest[pos] == b'\r';
                    rest = &rest[pos + 1..];
                    if ended_with_cr {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            None => self.pending_cr = true,
                            Some(_) => {}
                        }
                    }
                    self.end_line(out)?;
                }
                None => {
                    self.push_line_bytes(rest)?;
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        if self.line.len() + self.data.len() + bytes.len() > self.max_event {
            return Err(self.too_big());
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn too_big(&self) -> McpError {
        McpError::Protocol(format!(
            "an SSE event from the server is larger than the {}-byte limit",
            self.max_event
        ))
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<()> {
        let raw = std::mem::take(&mut self.line);
        let mut line: &[u8] = &raw;
        if !self.started {
            self.started = true;
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event_type = value.into_owned(),
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event {
                    return Err(self.too_big());
                }
                self.data.push_str(&value);
                self.data.push('\n');
                self.has_data = true;
            }
            b"id" if !value.contains('\0') => self.last_event_id = Some(value.into_owned()),
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event_type = std::mem::take(&mut self.event_type);
        let mut data = std::mem::take(&mut self.data);
        let has_data = std::mem::replace(&mut self.has_data, false);
        if data.ends_with('\n') {
            data.pop();
        }
        if !has_data || data.is_empty() {
            return;
        }
        out.push(SseEvent {
            event: if event_type.is_empty() {
                "message".into()
            } else {
                event_type
            },
            data,
            id: self.last_event_id.clone(),
        });
    }
}

/// An SSE response body read event by event.
pub struct SseStream {
    body: ByteStream,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
    read: usize,
    max_total: usize,
    ended: bool,
}

impl SseStream {
    pub fn new(body: ByteStream, max_event: usize, max_total: usize) -> Self {
        SseStream {
            body,
            parser: SseParser::new(max_event),
            ready: VecDeque::new(),
            read: 0,
            max_total,
            ended: false,
        }
    }

    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_event_id()
    }

    pub fn retry_ms(&self) -> Option<u64> {
        self.parser.retry_ms()
    }

    /// The next dispatched event, or `None` once the stream has ended (an incomplete last event
    /// is discarded, as the SSE rules say).
    pub async fn next_event(&mut self) -> Result<Option<SseEvent>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.next().await {
                None => self.ended = true,
                Some(chunk) => {
                    let chunk = chunk?;
                    self.read += chunk.len();
                    if self.read > self.max_total {
                        return Err(McpError::Protocol(format!(
                            "the server's event stream exceeded the {}-byte limit",
                            self.max_total
                        )));
                    }
                    let mut out = Vec::new();
                    self.parser.feed(&chunk, &mut out)?;
                    self.ready.extend(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        out
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(str::to_string),
        }
    }

    #[test]
    fn parses_a_typical_mcp_stream() {
        let got = parse_chunks(&[b"id: 0\ndata: \n\nevent: message\nid: 1\ndata: {\"a\":1}\n\n"]);
        assert_eq!(got, vec![ev("message", "{\"a\":1}", Some("1"))]);
    }

    #[test]
    fn framing_survives_every_split_point() {
        let whole: &[u8] =
            b"\xef\xbb\xbfevent: endpoint\r\ndata: /messages?x=1\r\n\r\n: keepalive\r\ndata: a\r\ndata: b\r\n\r\nid: 7\rdata: caf\xc3\xa9\r\r";
        let expected = vec![
            ev("endpoint", "/messages?x=1", None),
            ev("message", "a\nb", None),
            ev("message", "café", Some("7")),
        ];
        assert_eq!(parse_chunks(&[whole]), expected);
        for split in 0..whole.len() {
            let (a, b) = whole.split_at(split);
            assert_eq!(parse_chunks(&[a, b]), expected, "split at {split}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), expected, "one byte at a time");
    }

    #[test]
    fn comments_retry_and_unknown_fields() {
        let mut p = SseParser::new(1024);
        let mut out = Vec::new();
        p.feed(
            b":hello\nretry: 1500\nfoo: bar\nretry: x\ndata\n\n",
            &mut out,
        )
        .unwrap();
        assert_eq!(p.retry_ms(), Some(1500));
        // `data` with no colon is a data line with an empty value: an empty event, not dispatched.
        assert!(out.is_empty());
        p.feed(b"data:no-space\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("message", "no-space", None)]);
    }

    #[test]
    fn an_empty_priming_event_moves_the_last_event_id() {
        let mut p = SseParser::new(1024);
        let mut out = Vec::new();
        p.feed(b"id: prime-1\ndata:\n\n", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(p.last_event_id(), Some("prime-1"));
    }

    #[test]
    fn event_size_is_capped_in_one_line_and_across_lines() {
        let mut p = SseParser::new(16);
        let mut out = Vec::new();
        let err = p.feed(b"data: 0123456789abcdefghij", &mut out).unwrap_err();
        assert!(matches!(err, McpError::Protocol(m) if m.contains("16-byte limit")));

        let mut p = SseParser::new(16);
        p.feed(b"data: 012345\n", &mut out).unwrap();
        let err = p.feed(b"data: 6789abcdef\n", &mut out).unwrap_err();
        assert!(matches!(err, McpError::Protocol(_)));

        // The cap is per event: many small events are fine.
        let mut p = SseParser::new(16);
        for _ in 0..100 {
            p.feed(b"data: 0123\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 100);
    }

    #[tokio::test]
    async fn stream_total_is_capped_and_truncation_drops_the_partial_event() {
        let chunks: Vec<Result<Vec<u8>>> =
            vec![Ok(b"data: 1\n\n".to_vec()), Ok(b"data: 2 trunc".to_vec())];
        let mut s = SseStream::new(Box::pin(stream::iter(chunks)), 1024, 1024);
        assert_eq!(s.next_event().await.unwrap().unwrap().data, "1");
        assert_eq!(s.next_event().await.unwrap(), None);

        let chunks: Vec<Result<Vec<u8>>> = vec![Ok(vec![b':'; 600]), Ok(vec![b':'; 600])];
        let mut s = SseStream::new(Box::pin(stream::iter(chunks)), 4096, 1000);
        assert!(s.next_event().await.is_err());
    }

    #[test]
    fn an_empty_chunk_between_cr_and_lf_does_not_end_the_event() {
        let mut p = SseParser::new(1 << 20);
        let mut out = Vec::new();
        for chunk in [&b"event: x\r"[..], b"", b"\ndata: 1\r\n\r\n"] {
            p.feed(chunk, &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event, "x");
        assert_eq!(out[0].data, "1");
    }
}
