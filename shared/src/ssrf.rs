//! Outbound target policy. Admin-supplied URLs become requests from our infrastructure, so
//! loopback, private, link-local, metadata and other non-public targets are refused unless
//! the deployment allows them (local development does: its demo servers are on loopback).
//!
//! Workers cannot resolve DNS before fetching, so names are judged by their text: literal
//! addresses by range, and names that conventionally point inside (`localhost`, `*.local`,
//! `*.internal`, metadata hosts) by suffix. The check runs again on every redirect target.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{Error, Result};

/// Parses and checks an upstream URL. `allow_private` is the deployment setting.
pub fn check_upstream_url(raw: &str, allow_private: bool) -> Result<Url> {
    let url = Url::parse(raw)
        .map_err(|e| Error::validation(format!("server url is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::validation("server url must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::validation(
            "server url must not carry credentials; store them with set_credential",
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| Error::validation("server url has no host"))?;
    if !allow_private && !is_public(&host) {
        return Err(Error::validation(
            "server url points at a private, loopback, link-local or metadata address, which this deployment does not allow",
        ));
    }
    Ok(url)
}

fn is_public(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => is_public_v4(*ip),
        Host::Ipv6(ip) => is_public_v6(*ip),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Ok(ip) = name.parse::<IpAddr>() {
                return match ip {
                    IpAddr::V4(v4) => is_public_v4(v4),
                    IpAddr::V6(v6) => is_public_v6(v6),
                };
            }
            const INTERNAL_SUFFIXES: [&str; 5] = [
                ".localhost",
                ".local",
                ".internal",
                ".localdomain",
                ".home.arpa",
            ];
            !(name == "localhost"
                || name == "metadata"
                || INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s))
                || !name.contains('.'))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x64 && ip.segments()[1] == 0xff9b)) // NAT64 can reach anything
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused_by_default() {
        for url in [
            "http://127.0.0.1:3001/mcp",
            "http://localhost/mcp",
            "http://foo.localhost/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://metadata.google.internal/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://intranet/",
            "http://2130706433/",
        ] {
            let err = check_upstream_url(url, false).unwrap_err();
            assert_eq!(err.code(), "validation_error", "{url}");
        }
    }

    #[test]
    fn public_targets_pass_and_private_ones_pass_when_allowed() {
        assert!(check_upstream_url("https://mcp.example.com/mcp", false).is_ok());
        assert!(check_upstream_url("https://8.8.8.8/mcp", false).is_ok());
        assert!(check_upstream_url("http://127.0.0.1:3001/mcp", true).is_ok());
    }

    #[test]
    fn other_schemes_and_embedded_credentials_are_refused() {
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "https://user:pw@example.com/mcp",
            "not a url",
        ] {
            assert!(check_upstream_url(url, true).is_err(), "{url}");
        }
    }
}
