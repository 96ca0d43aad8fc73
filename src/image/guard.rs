//! The SSRF guard: image URLs may only reach globally routable addresses,
//! judged on the addresses DNS returns, which are the only ones connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is a public, globally routable unicast address.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                   // "this network"
        || (a == 100 && (64..128).contains(&b))     // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b))      // benchmarking 198.18/15
        || a >= 240) // reserved
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_global_v4(v4);
    }
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || s[..6] == [0; 6]                         // IPv4-compatible ::a.b.c.d (deprecated)
        || (s[0] & 0xfe00) == 0xfc00                // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80                // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0                // site-local fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8)       // documentation
        || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard 100::/64
}

/// The IPv4 address an IPv6 address carries and reaches: IPv4-mapped
/// (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`), and
/// Teredo (`2001:0::/32`, the client's address, inverted).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        [0x2001, 0, .., hi, lo] => Some(v4(!hi, !lo)),
        _ => None,
    }
}

/// Whether a host name means this machine or a private network in any
/// spelling (letter case, a trailing dot): the special-use names of RFC 6761
/// (`localhost`, `invalid`, `test`, `example`), the link-local `local`
/// (RFC 6762), `home.arpa` (RFC 8375), `internal`, and the reverse-lookup
/// zones. Refused without asking DNS, which a resolver may answer as it likes.
pub fn is_special_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    const ZONES: [&str; 9] = [
        "localhost",
        "invalid",
        "test",
        "example",
        "local",
        "home.arpa",
        "internal",
        "in-addr.arpa",
        "ip6.arpa",
    ];
    host.is_empty()
        || ZONES
            .iter()
            .any(|zone| host == *zone || host.ends_with(&format!(".{zone}")))
}

/// Resolves names with the system resolver and keeps only allowed addresses.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// `image.allow_private_networks`: keep every address.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            if !allow_private && is_special_name(&host) {
                return Err(Box::new(Blocked(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_global(a.ip()))
                .collect();
            if allowed.is_empty() && !found.is_empty() {
                return Err(Box::new(Blocked(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A host that resolves only to addresses the guard refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to non-public addresses, which image URLs may not reach")]
pub struct Blocked(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_global_addresses_are_refused() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "fec0::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_global(ip), "{text} should be refused");
        }
    }

    #[test]
    fn special_use_names_are_refused_in_every_spelling() {
        for name in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "foo.LocalHost.",
            "x.invalid",
            "a.test.",
            "example",
            "printer.local",
            "nas.home.arpa.",
            "metadata.google.internal",
            "1.0.0.127.in-addr.arpa",
            "",
            ".",
        ] {
            assert!(is_special_name(name), "{name:?} should be refused");
        }
        for name in [
            "example.com",
            "localhost.example.com",
            "cdn.testing.io",
            "local.com",
        ] {
            assert!(!is_special_name(name), "{name:?} is an ordinary name");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_global(ip), "{text} should be allowed");
        }
    }
}
