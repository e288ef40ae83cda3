//! A byte ring buffer holding the tail of a child's stderr.
//!
//! Invariant: never holds more than `cap` bytes, however much the child writes; the oldest
//! bytes go first. Content is only ever shown redacted (see `LaunchSpec::redact`).

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Ring {
    cap: usize,
    buf: VecDeque<u8>,
    dropped: u64,
}

impl Ring {
    pub fn new(cap: usize) -> Self {
        Ring {
            cap,
            buf: VecDeque::with_capacity(cap.min(64 * 1024)),
            dropped: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.cap == 0 {
            self.dropped += bytes.len() as u64;
            return;
        }
        let bytes = if bytes.len() > self.cap {
            self.dropped += (bytes.len() - self.cap) as u64;
            &bytes[bytes.len() - self.cap..]
        } else {
            bytes
        };
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        if overflow > 0 {
            self.buf.drain(..overflow);
            self.dropped += overflow as u64;
        }
        self.buf.extend(bytes);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The last `max` bytes as (lossy) UTF-8.
    pub fn tail(&self, max: usize) -> String {
        let skip = self.buf.len().saturating_sub(max);
        let bytes: Vec<u8> = self.buf.iter().skip(skip).copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_cap_bytes() {
        let mut r = Ring::new(8);
        r.push(b"hello ");
        r.push(b"world");
        assert_eq!(r.len(), 8);
        assert_eq!(r.tail(100), "lo world");
        r.push(b"0123456789abc");
        assert_eq!(r.tail(100), "56789abc");
        assert_eq!(r.tail(3), "abc");
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut r = Ring::new(0);
        r.push(b"abc");
        assert!(r.is_empty());
    }
}
