//! The certificates `syslog-tls://` drains trust: the system's roots plus any extra ones the
//! wiring adds (a drain's own CA; tests' self-signed certificates).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::DrainError;

/// Built once per [`super::DrainRouter`] and shared by its drains: reading the system's roots
/// touches many files, so that happens once, when the first TLS drain starts.
pub(crate) struct Trust {
    extra: RootCertStore,
    config: OnceLock<Arc<ClientConfig>>,
}

impl Trust {
    /// Fails when one of `extra_roots` is not a usable X.509 certificate.
    pub(crate) fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, DrainError> {
        let mut extra = RootCertStore::empty();
        for cert in extra_roots {
            extra
                .add(cert.clone())
                .map_err(|e| DrainError::Certificate(e.to_string()))?;
        }
        Ok(Self {
            extra,
            config: OnceLock::new(),
        })
    }

    pub(crate) fn client_config(&self) -> Arc<ClientConfig> {
        self.config
            .get_or_init(|| {
                let mut roots = RootCertStore::empty();
                let system = rustls_native_certs::load_native_certs();
                for error in &system.errors {
                    tracing::warn!(%error, "syslog drains: reading the system's CA certificates");
                }
                let (added, ignored) = roots.add_parsable_certificates(system.certs);
                tracing::debug!(added, ignored, "syslog drains: system CA certificates");
                roots.roots.extend(self.extra.roots.iter().cloned());
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("ring supports rustls' default protocol versions")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Arc::new(config)
            })
            .clone()
    }
}
