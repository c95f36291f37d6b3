//! The `http_allow` option: hosts and address ranges that http cards may call although they
//! are internal. Ranges are `ipnet` networks; the guard that asks is `chat::ssrf`.

use std::net::IpAddr;

use ipnet::IpNet;

/// Hosts and address ranges that http cards may call although they are internal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<String>,
    ranges: Vec<IpNet>,
}

impl AllowList {
    /// Parse a comma list of host names, IP addresses and CIDR ranges
    /// (`localhost, 10.1.0.0/16, fd00::/8`).
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.contains('/') || entry.parse::<IpAddr>().is_ok() {
                list.ranges.push(parse_range(entry)?);
            } else if is_host_name(entry) {
                list.hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!(
                    "`{entry}` is neither a host name, an IP address nor a CIDR range"
                ));
            }
        }
        Ok(list)
    }

    /// Is this host name allow-listed (any address it resolves to may be called)?
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        self.hosts.contains(&host)
    }

    /// Is this address inside an allow-listed range?
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.ranges.iter().any(|r| r.contains(&ip))
    }
}

/// An address (a range of one) or `ADDRESS/PREFIX`; IPv4-mapped addresses count as IPv4.
fn parse_range(text: &str) -> Result<IpNet, String> {
    let bad = || format!("`{text}` is not an IP address or CIDR range");
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a.trim(), Some(l.trim())),
        None => (text, None),
    };
    let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u8>().map_err(|_| bad())?,
        None => max,
    };
    IpNet::new(addr, len).map_err(|_| format!("`{text}`: the prefix length is at most {max}"))
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) count as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A host as compared: no brackets, no trailing dot, lower case.
pub fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hosts_and_mapped_addresses() {
        let allow = AllowList::parse("localhost, 10.1.0.0/16,fd12::/16, 127.0.0.1").unwrap();
        assert!(allow.allows_host("LOCALHOST."));
        assert!(allow.allows_ip("10.1.200.3".parse().unwrap()));
        assert!(!allow.allows_ip("10.2.0.1".parse().unwrap()));
        assert!(allow.allows_ip("fd12::5".parse().unwrap()));
        assert!(allow.allows_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!allow.allows_ip("127.0.0.2".parse().unwrap()));
        // A range written with host bits set still covers its network.
        let loose = AllowList::parse("10.1.2.3/16").unwrap();
        assert!(loose.allows_ip("10.1.9.9".parse().unwrap()));
        let err = AllowList::parse("10.0.0.0/33").unwrap_err();
        assert!(err.contains("at most 32"), "{err}");
        assert!(AllowList::parse("fd00::/129").is_err());
        assert!(AllowList::parse("10.0.0.0/x").is_err());
        assert!(AllowList::parse("not a host!").is_err());
        assert_eq!(AllowList::parse(" , ").unwrap(), AllowList::default());
    }
}
