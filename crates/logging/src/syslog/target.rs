//! Where a drain URL points: `syslog://host:port` (TCP) or `syslog-tls://host:port` (TLS).

use std::fmt;

use super::DrainError;

/// RFC 5426's syslog port, and RFC 5425's for syslog over TLS.
const SYSLOG_PORT: u16 = 514;
const SYSLOG_TLS_PORT: u16 = 6514;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Tls,
}

/// A parsed drain URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) transport: Transport,
    /// A DNS name or an IP address, without IPv6 brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Target {
    /// Query parameters (the agent's `drain-type` and friends) are ignored: drains carry logs.
    pub(crate) fn parse(raw: &str) -> Result<Self, DrainError> {
        let invalid = |why: &str| DrainError::InvalidUrl {
            url: raw.to_owned(),
            why: why.to_owned(),
        };
        let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
        let (transport, default_port) = match url.scheme() {
            "syslog" => (Transport::Tcp, SYSLOG_PORT),
            "syslog-tls" => (Transport::Tls, SYSLOG_TLS_PORT),
            scheme => return Err(DrainError::UnsupportedScheme(scheme.to_owned())),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        Ok(Self {
            transport,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port().unwrap_or(default_port),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Tcp => "syslog",
            Transport::Tls => "syslog-tls",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(transport: Transport, host: &str, port: u16) -> Target {
        Target {
            transport,
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn syslog_is_tcp_and_syslog_tls_is_tls() {
        assert_eq!(
            Target::parse("syslog://logs.example:1234").unwrap(),
            target(Transport::Tcp, "logs.example", 1234)
        );
        assert_eq!(
            Target::parse("syslog-tls://127.0.0.1:6000/?drain-type=logs").unwrap(),
            target(Transport::Tls, "127.0.0.1", 6000)
        );
        let ipv6 = Target::parse("syslog://[::1]:99").unwrap();
        assert_eq!(ipv6, target(Transport::Tcp, "::1", 99));
        assert_eq!(ipv6.to_string(), "syslog://[::1]:99");
    }

    #[test]
    fn ports_default_to_the_syslog_ones() {
        assert_eq!(Target::parse("syslog://h").unwrap().port, 514);
        assert_eq!(Target::parse("syslog-tls://h").unwrap().port, 6514);
    }

    #[test]
    fn other_schemes_and_hostless_urls_are_refused() {
        let err = Target::parse("https://logs.example/drain").unwrap_err();
        assert!(matches!(&err, DrainError::UnsupportedScheme(s) if s == "https"));
        assert!(err.to_string().contains("syslog-tls://"), "{err}");
        assert!(matches!(
            Target::parse("syslog:///path"),
            Err(DrainError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Target::parse("not a url"),
            Err(DrainError::InvalidUrl { .. })
        ));
    }
}
