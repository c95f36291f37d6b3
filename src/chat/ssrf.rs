//! Which addresses an http card may call (server-side request forgery guard).
//!
//! A playbook author writes any URL into an http card. Without a guard, a card could reach
//! the app's own admin routes, the database, other machines of the private network or the
//! cloud metadata service (which hands out credentials). So an address is refused when it is
//! loopback, private, link-local, unspecified, carrier-grade NAT, multicast or reserved, or
//! a cloud metadata address — unless the configuration's allow-list names its host or
//! covers it with a CIDR range. Pure: no I/O here; `http_card` resolves names and asks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::config::AllowList;
use crate::config::allow_list::{canonical, normalize_host};

/// Host names of cloud metadata services, refused by name (before any resolution).
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata", "instance-data"];

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} is a cloud metadata host")]
    MetadataHost(String),
    #[error("{0} is an internal address (loopback, private, link-local or reserved)")]
    Internal(IpAddr),
}

/// May a card call `host` at all, before resolution? Refuses metadata host names.
pub fn check_host(host: &str, allow: &AllowList) -> Result<(), Refusal> {
    let name = normalize_host(host);
    if allow.allows_host(&name) {
        return Ok(());
    }
    if METADATA_HOSTS.contains(&name.as_str()) {
        return Err(Refusal::MetadataHost(name));
    }
    Ok(())
}

/// May a card connect to `ip`, reached through `host` (the URL's host)?
pub fn check_ip(host: &str, ip: IpAddr, allow: &AllowList) -> Result<(), Refusal> {
    if allow.allows_host(host) || allow.allows_ip(ip) || !is_internal(ip) {
        Ok(())
    } else {
        Err(Refusal::Internal(ip))
    }
}

/// Is `ip` an address no outside API lives at?
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    const RANGES: &[(u32, u8)] = &[
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network", unspecified
        (0x0a00_0000, 8),  // 10.0.0.0/8 private
        (0x6440_0000, 10), // 100.64.0.0/10 carrier-grade NAT
        (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
        (0xa9fe_0000, 16), // 169.254.0.0/16 link-local, cloud metadata
        (0xac10_0000, 12), // 172.16.0.0/12 private
        (0xc000_0000, 24), // 192.0.0.0/24 protocol assignments
        (0xc0a8_0000, 16), // 192.168.0.0/16 private
        (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
        (0xe000_0000, 4),  // 224.0.0.0/4 multicast
        (0xf000_0000, 4),  // 240.0.0.0/4 reserved, broadcast
    ];
    let bits = u32::from(ip);
    RANGES
        .iter()
        .any(|&(net, len)| bits >> (32 - u32::from(len)) == net >> (32 - u32::from(len)))
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local (fd00:ec2::254 metadata)
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 old site-local
        || embedded_v4(ip).is_some_and(is_internal_v4)
}

/// The IPv4 address carried by an IPv6 address that embeds one: IPv4-compatible
/// (`::/96`, deprecated but still routed by some stacks to the IPv4 address), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`). `::` and `::1` are not embeddings.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::from(u128::from(ip) as u32);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback() {
        return Some(low);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
        ] {
            assert!(is_internal(ip(a)), "{a} should be internal");
            assert!(check_ip("example.com", ip(a), &AllowList::default()).is_err());
        }
    }

    /// Every internal IPv4 range, in every IPv6 form that embeds an IPv4 address.
    #[test]
    fn embedded_ipv4_is_classified_in_every_form() {
        let internal = [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "192.168.1.1",
            "172.16.0.1",
            "100.64.0.1",
            "0.0.0.1",
            "224.0.0.1",
        ];
        let forms = |v4: Ipv4Addr| {
            let [a, b, c, d] = v4.octets();
            let hi = u16::from_be_bytes([a, b]);
            let lo = u16::from_be_bytes([c, d]);
            vec![
                format!("::{v4}"),
                format!("::{hi:x}:{lo:x}"),
                format!("::ffff:{v4}"),
                format!("64:ff9b::{v4}"),
                format!("64:ff9b::{hi:x}:{lo:x}"),
                format!("2002:{hi:x}:{lo:x}::1"),
                format!("2002:{hi:x}:{lo:x}:ffff::"),
            ]
        };
        for v4 in internal {
            for a in forms(v4.parse().unwrap()) {
                assert!(is_internal(ip(&a)), "{a} should be internal");
                assert!(check_ip("example.com", ip(&a), &AllowList::default()).is_err());
            }
        }
        for a in forms("8.8.8.8".parse().unwrap()) {
            assert!(!is_internal(ip(&a)), "{a} should be public");
        }
        // The URL form of the finding.
        let url = url::Url::parse("http://[::127.0.0.1]/").unwrap();
        let Some(url::Host::Ipv6(v6)) = url.host() else {
            panic!("an IPv6 host")
        };
        assert!(is_internal(IpAddr::V6(v6)));
    }

    #[test]
    fn public_addresses_are_allowed() {
        for a in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700::1111",
        ] {
            assert!(!is_internal(ip(a)), "{a} should be public");
        }
    }

    #[test]
    fn the_allow_list_opens_hosts_and_ranges() {
        let allow = AllowList::parse("localhost, 10.1.0.0/16,fd12::/16, 127.0.0.1").unwrap();
        assert!(check_ip("localhost", ip("127.0.0.2"), &allow).is_ok());
        assert!(check_ip("x.test", ip("10.1.200.3"), &allow).is_ok());
        assert!(check_ip("x.test", ip("10.2.0.1"), &allow).is_err());
        assert!(check_ip("x.test", ip("fd12::5"), &allow).is_ok());
        assert!(check_ip("x.test", ip("::ffff:127.0.0.1"), &allow).is_ok());
        assert!(check_ip("x.test", ip("127.0.0.2"), &allow).is_err());
        assert!(AllowList::parse("not a host!").is_err());
        assert!(AllowList::parse("10.0.0.0/33").is_err());
        assert!(AllowList::parse("").unwrap() == AllowList::default());
    }

    #[test]
    fn metadata_host_names_are_refused_unless_listed() {
        let none = AllowList::default();
        assert!(check_host("metadata.google.internal", &none).is_err());
        assert!(check_host("METADATA.google.internal.", &none).is_err());
        assert!(check_host("api.example.com", &none).is_ok());
        let allow = AllowList::parse("metadata.google.internal").unwrap();
        assert!(check_host("metadata.google.internal", &allow).is_ok());
    }
}
