//! The router's share of `ingot up` and `ingot router`: the system domain's static routes to
//! the Cloud Controller, the UAA and log-cache, and the HTTPS listener's certificate.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::http::Uri;
use ingot_router::tls::{self, CertificateFiles, ServerConfig};
use ingot_router::{Endpoint, RouteKey};

use crate::config::{Config, RouterTls};

/// Where the router reaches the components it serves on the system domain.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SystemComponents {
    pub cloud_controller: Option<Backend>,
    pub uaa: Option<Backend>,
    pub log_cache: Option<Backend>,
}

/// An address (IP or name) and port the router dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub address: String,
    pub port: u16,
}

impl Backend {
    /// A listener of this process; one bound to every interface is dialled on loopback.
    pub fn listening_at(addr: SocketAddr) -> Self {
        let ip = if addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            addr.ip()
        };
        Self {
            address: ip.to_string(),
            port: addr.port(),
        }
    }

    /// The host and port of a component's URL, e.g. `http://10.0.0.5:9022`.
    pub fn at_url(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("URL {url}"))?;
        let host = uri
            .host()
            .with_context(|| format!("URL {url} has no host"))?;
        let port = match (uri.port_u16(), uri.scheme_str()) {
            (Some(port), _) => port,
            (None, Some("https")) => 443,
            (None, _) => 80,
        };
        Ok(Self {
            address: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }
}

/// The system domain's hosts and the component each leads to, as in CF.
const SYSTEM_HOSTS: [&str; 4] = ["api", "uaa", "login", "log-cache"];

impl SystemComponents {
    /// For `ingot router` on its own: the components at the configured URLs, if any.
    pub fn at_urls(config: &Config) -> anyhow::Result<Self> {
        let at = |url: &Option<String>| url.as_deref().map(Backend::at_url).transpose();
        Ok(Self {
            cloud_controller: at(&config.api_url)?,
            uaa: at(&config.uaa_url)?,
            log_cache: at(&config.log_cache_url)?,
        })
    }

    /// The static routes under `system_domain`: `api.` to the Cloud Controller, `uaa.` and
    /// `login.` to the UAA, `log-cache.` to log-cache; none for a component not known.
    pub fn routes(&self, system_domain: &str) -> Vec<(RouteKey, Endpoint)> {
        SYSTEM_HOSTS
            .iter()
            .filter_map(|host| {
                let (component, backend) = match *host {
                    "api" => ("cloud_controller", &self.cloud_controller),
                    "uaa" | "login" => ("uaa", &self.uaa),
                    _ => ("log_cache", &self.log_cache),
                };
                let backend = backend.as_ref()?;
                let endpoint = Endpoint {
                    address: backend.address.clone(),
                    port: backend.port,
                    instance_guid: component.to_owned(),
                    index: 0,
                    process_guid: component.to_owned(),
                    app_id: String::new(),
                };
                Some((
                    RouteKey::new(&format!("{host}.{system_domain}"), ""),
                    endpoint,
                ))
            })
            .collect()
    }
}

/// `<scheme>://<host>.<system_domain>` at the router listening on `router`, e.g.
/// `http://api.localhost:8080` (no port when it is the scheme's own).
pub fn system_url(scheme: &str, host: &str, system_domain: &str, router: SocketAddr) -> String {
    let port = match (scheme, router.port()) {
        ("http", 80) | ("https", 443) => String::new(),
        (_, port) => format!(":{port}"),
    };
    format!("{scheme}://{host}.{system_domain}{port}")
}

/// The HTTPS listener's rustls config, and the CA to trust when Ingot generated the
/// certificate (under `<data dir>/router-tls`, reused on later starts).
pub fn server_config(
    config: &Config,
    https: &RouterTls,
) -> anyhow::Result<(Arc<ServerConfig>, Option<PathBuf>)> {
    let (files, ca) = match &https.cert_and_key {
        Some((cert, key)) => (
            CertificateFiles {
                cert: cert.clone(),
                key: key.clone(),
            },
            None,
        ),
        None => {
            let generated = tls::load_or_generate(
                &config.data_dir.join("router-tls"),
                &certificate_names(config),
            )?;
            (generated.files, Some(generated.ca))
        }
    };
    Ok((tls::server_config(&files, https.http2)?, ca))
}

/// What a generated certificate covers: both domains and every host under them, the system
/// hosts by name, and loopback.
fn certificate_names(config: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    for domain in [&config.apps_domain, &config.system_domain] {
        names.push(domain.clone());
        // Clients accept a wildcard only with two labels after it (not `*.localhost`), so
        // the system hosts are also named one by one below.
        if domain.contains('.') {
            names.push(format!("*.{domain}"));
        }
    }
    names.extend(
        SYSTEM_HOSTS
            .iter()
            .map(|host| format!("{host}.{}", config.system_domain)),
    );
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_from_listeners_and_urls() {
        let any: SocketAddr = "0.0.0.0:9022".parse().unwrap();
        assert_eq!(
            Backend::listening_at(any),
            Backend {
                address: "127.0.0.1".into(),
                port: 9022
            }
        );
        for (url, address, port) in [
            ("http://10.0.0.5:9022", "10.0.0.5", 9022),
            ("https://uaa.example.test", "uaa.example.test", 443),
            ("http://logs.example.test/", "logs.example.test", 80),
            ("http://[::1]:9024", "::1", 9024),
        ] {
            let backend = Backend::at_url(url).unwrap();
            assert_eq!(
                (backend.address.as_str(), backend.port),
                (address, port),
                "{url}"
            );
        }
        assert!(Backend::at_url("not a url").is_err());
    }

    #[test]
    fn system_urls_leave_out_default_ports() {
        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(
            system_url("http", "api", "localhost", at(8080)),
            "http://api.localhost:8080"
        );
        assert_eq!(
            system_url("http", "api", "sys.test", at(80)),
            "http://api.sys.test"
        );
        assert_eq!(
            system_url("https", "uaa", "sys.test", at(443)),
            "https://uaa.sys.test"
        );
    }

    #[test]
    fn system_routes_lead_to_their_components() {
        let system = SystemComponents {
            cloud_controller: Some(Backend::listening_at("127.0.0.1:1".parse().unwrap())),
            uaa: Some(Backend::listening_at("127.0.0.1:2".parse().unwrap())),
            log_cache: None,
        };
        let routes: Vec<(String, u16)> = system
            .routes("sys.test")
            .into_iter()
            .map(|(route, endpoint)| (route.to_string(), endpoint.port))
            .collect();
        assert_eq!(
            routes,
            [
                ("api.sys.test".to_owned(), 1),
                ("uaa.sys.test".to_owned(), 2),
                ("login.sys.test".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn certificate_names_cover_both_domains() {
        let mut config = Config::ephemeral("/tmp/unused");
        config.apps_domain = "apps.example.test".into();
        let names = certificate_names(&config);
        for name in [
            "*.apps.example.test",
            "apps.example.test",
            "localhost",
            "api.localhost",
            "log-cache.localhost",
            "127.0.0.1",
        ] {
            assert!(names.contains(&name.to_owned()), "{name}: {names:?}");
        }
        assert!(!names.contains(&"*.localhost".to_owned()));
    }
}
