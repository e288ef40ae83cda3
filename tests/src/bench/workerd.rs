//! The local runtime's processes: the inner port of the workerd that runs the workers, and
//! the peak memory of a session's workerd processes.
//!
//! `wrangler dev` (Miniflare) starts two workerd processes, children of its node process and
//! so in the harness's process group: the *proxy* (`--socket-addr=entry=127.0.0.1:<the port
//! wrangler prints>`), which forwards every request, and the *runtime* that runs the workers,
//! started with `--socket-addr=entry=127.0.0.1:0` (its port picked by the kernel and reported
//! to Miniflare over a control pipe, printed nowhere). The runtime is found by that argument;
//! its listening sockets are the ones in `/proc/net/tcp` whose inodes are among its open file
//! descriptors (what `ss -ltnp` shows); the entry socket is the one of them that answers
//! `GET /health` with the gateway's `x-request-id` (the others are the inspector, the debug
//! port and Miniflare's loopback services).

use std::collections::HashSet;
use std::time::Duration;

/// The pids of the workerd processes in process group `pgid`.
pub fn workerd_pids(pgid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let is_workerd =
            std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "workerd");
        if is_workerd && process_group(pid) == Some(pgid) {
            pids.push(pid);
        }
    }
    pids
}

fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: state ppid pgrp …
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// TCP ports `pid` listens on (IPv4 and IPv6).
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().to_string();
            t.strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .map(String::from)
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address rem_address st … inode (column 9); st 0A = LISTEN.
            if cols.len() > 9 && cols[3] == "0A" && inodes.contains(cols[9]) {
                if let Some(port) = cols[1]
                    .rsplit(':')
                    .next()
                    .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                {
                    ports.push(port);
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The inner (runtime) workerd's entry port of the session in process group `pgid`.
pub fn inner_port(pgid: u32) -> Result<u16, String> {
    let runtimes: Vec<u32> = workerd_pids(pgid)
        .into_iter()
        .filter(|pid| cmdline(*pid).contains("--socket-addr=entry=127.0.0.1:0"))
        .collect();
    if runtimes.is_empty() {
        return Err(format!(
            "no workerd with --socket-addr=entry=127.0.0.1:0 in process group {pgid}"
        ));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    for pid in runtimes {
        for port in listening_ports(pid) {
            if let Ok(r) = agent.get(format!("http://127.0.0.1:{port}/health")).call() {
                if r.status() == 200 && r.headers().contains_key("x-request-id") {
                    return Ok(port);
                }
            }
        }
    }
    Err("the runtime workerd has no port answering GET /health with x-request-id".into())
}

/// Peak resident set (VmHWM) summed over the workerd processes of process group `pgid`, KiB.
pub fn peak_rss_kib(pgid: u32) -> u64 {
    workerd_pids(pgid)
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}

/// CPU time (user + system) used so far by the workerd processes of process group `pgid`, ms.
pub fn cpu_ms(pgid: u32) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    workerd_pids(pgid)
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // After the parenthesised command: state is field 3; utime and stime 14 and 15.
            let rest = &stat[stat.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) * 1000 / ticks_per_sec)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_of_this_process_is_found_by_its_inode() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listening_ports(std::process::id()).contains(&port));
        drop(listener);
        assert!(!listening_ports(std::process::id()).contains(&port));
    }

    #[test]
    fn this_process_is_in_its_own_process_group_lookup() {
        // SAFETY: getpgrp has no preconditions.
        let pgid = unsafe { libc::getpgrp() } as u32;
        assert_eq!(process_group(std::process::id()), Some(pgid));
    }
}
