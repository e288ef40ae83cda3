//! Free loopback ports for the services a test starts.
//!
//! A port is picked at random *below* the kernel's ephemeral range (Linux:
//! `/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default) and checked by binding it.
//! Between that check and the moment the service binds the port, no other process can be
//! handed it by the kernel: `bind(0)` (a runtime's inner socket, every outgoing connection)
//! only hands out ephemeral ports. With `bind(0)` itself, as before, a test binary running
//! beside another (scripts/integration-tests.sh runs two at once) could find its port taken
//! by the other's runtime and talk to the wrong server. Ports this process picked are never
//! picked again by it. Where the range cannot be read or leaves too little room, it falls
//! back to `bind(0)`.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::sync::Mutex;

/// The lowest port picked (above the registered ports most local services use).
const LOWEST: u16 = 15000;
/// The fewest ports the range below the ephemeral one must hold to be used.
const MIN_ROOM: u16 = 2000;

/// A loopback port nobody listens on now (see the module's invariants).
pub fn free_port() -> u16 {
    static PICKED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    if let Some(top) = below_ephemeral() {
        let mut picked = PICKED.lock().unwrap_or_else(|e| e.into_inner());
        let picked = picked.get_or_insert_with(HashSet::new);
        for _ in 0..200 {
            let port = LOWEST + (random() % u64::from(top - LOWEST)) as u16;
            if !picked.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
                picked.insert(port);
                return port;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The first port of the kernel's ephemeral range, if there is room below it.
fn below_ephemeral() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let low: u16 = range.split_whitespace().next()?.parse().ok()?;
    (low >= LOWEST + MIN_ROOM).then_some(low)
}

fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ports_are_bindable_distinct_and_below_the_ephemeral_range() {
        let top = below_ephemeral().expect("this machine's ephemeral range leaves room");
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!(
                (LOWEST..top).contains(&port),
                "{port} outside {LOWEST}..{top}"
            );
            TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }
}
