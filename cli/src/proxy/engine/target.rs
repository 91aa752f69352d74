//! Host names and ports as the proxy compares them: the CONNECT target, the `Host` header and
//! the TLS SNI must name the same place.

use std::net::IpAddr;

use rustls::pki_types::ServerName;

/// Where a CONNECT asked to go: a host (lower case, no trailing dot, IPv6 without brackets)
/// and a port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The host name or IP literal, normalised.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Target {
    /// Parses `host:port` or `[v6]:port`; without a port, `default_port` (none: an error).
    pub fn parse(authority: &str, default_port: Option<u16>) -> Option<Target> {
        let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return None,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0)?,
            None => default_port?,
        };
        let host = normalize(host);
        if host.is_empty()
            || (host.contains(['/', '@', ' ', ':']) && host.parse::<IpAddr>().is_err())
        {
            return None;
        }
        Some(Target { host, port })
    }

    /// Does `name` (an SNI, say) name this target's host?
    pub fn same_host(&self, name: &str) -> bool {
        normalize(name) == self.host
    }

    /// The name to verify the upstream's certificate against.
    pub fn server_name(&self) -> Option<ServerName<'static>> {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => Some(ServerName::IpAddress(ip.into())),
            Err(_) => ServerName::try_from(self.host.clone()).ok(),
        }
    }

    /// `host:port`, with brackets around an IPv6 literal.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Lower case, one trailing dot removed.
pub fn normalize(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_ips_and_ports() {
        let t = Target::parse("API.Example.com.:8443", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("api.example.com", 8443));
        let t = Target::parse("[::1]:443", None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority()),
            ("::1", "[::1]:443".to_owned())
        );
        assert_eq!(Target::parse("example.com", Some(443)).unwrap().port, 443);
        assert!(Target::parse("example.com", None).is_none());
        assert!(Target::parse("example.com:0", None).is_none());
        assert!(Target::parse("example.com:x", None).is_none());
        assert!(Target::parse(":443", None).is_none());
        assert!(Target::parse("a@b:443", None).is_none());
    }
}
