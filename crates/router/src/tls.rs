//! TLS termination: the router's certificate and its rustls server configuration.
//!
//! The certificate comes from configured PEM files or, when none is configured, from a CA that
//! is generated once into a directory together with a server certificate it signed. Users trust
//! that CA (`curl --cacert ca.pem`) instead of a certificate per host.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
pub use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub const CA_FILE: &str = "ca.pem";
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";
/// The CA's key, kept so a change of domains reissues the server certificate under the CA
/// users already trust.
const CA_KEY_FILE: &str = "ca-key.pem";
/// The names the generated server certificate holds, one per line, to tell when they changed.
const NAMES_FILE: &str = "names";

/// What can go wrong loading or generating the router's certificate.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Pem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{}: no certificate in the file", .0.display())]
    NoCertificate(PathBuf),
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A PEM certificate chain (server certificate first) and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A server certificate signed by a CA generated for this router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCertificate {
    /// The CA's certificate: what clients trust.
    pub ca: PathBuf,
    pub files: CertificateFiles,
}

/// The server certificate under `dir` for `names` (DNS names, `*.` wildcards, IP addresses):
/// reused when present and made for the same names, otherwise issued anew, by the CA already
/// there or by a new one (keys readable by the owner only).
/// Errors: `Io` (the directory cannot be read or written), `Generate`.
pub fn load_or_generate(dir: &Path, names: &[String]) -> Result<GeneratedCertificate, TlsError> {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    let generated = GeneratedCertificate {
        ca: dir.join(CA_FILE),
        files: CertificateFiles {
            cert: dir.join(CERT_FILE),
            key: dir.join(KEY_FILE),
        },
    };
    let names_path = dir.join(NAMES_FILE);
    let recorded = std::fs::read_to_string(&names_path).unwrap_or_default();
    let complete = [&generated.ca, &generated.files.cert, &generated.files.key]
        .iter()
        .all(|path| path.is_file());
    if complete && recorded.lines().eq(names.iter().map(String::as_str)) {
        return Ok(generated);
    }

    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let ca_key_path = dir.join(CA_KEY_FILE);
    let kept_ca_key = match std::fs::read_to_string(&ca_key_path) {
        Ok(pem) if generated.ca.is_file() => Some(KeyPair::from_pem(&pem)?),
        _ => None,
    };
    let new_ca = kept_ca_key.is_none();
    let ca_key = match kept_ca_key {
        Some(key) => key,
        None => KeyPair::generate()?,
    };
    // Rebuilt from the same subject and key, the CA signs certificates that the CA file users
    // already trust verifies.
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Ingot router CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.clone())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Ingot router");
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    write(&generated.files.key, &key.serialize_pem(), 0o600)?;
    // The chain clients are sent: the server certificate, then the CA that signed it.
    write(
        &generated.files.cert,
        &format!("{}{}", cert.pem(), ca.pem()),
        0o644,
    )?;
    if new_ca {
        write(&ca_key_path, &ca_key.serialize_pem(), 0o600)?;
        write(&generated.ca, &ca.pem(), 0o644)?;
    }
    write(&names_path, &(names.join("\n") + "\n"), 0o644)?;
    tracing::info!(ca = %generated.ca.display(), new_ca, "router: issued a server certificate");
    Ok(generated)
}

/// The rustls configuration serving `files`; ALPN offers `h2` first when `http2` is set.
/// Errors: `Io`/`Pem`/`NoCertificate` (unreadable files), `Config` (key and certificate do not
/// fit).
pub fn server_config(files: &CertificateFiles, http2: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| pem(&files.cert, source))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| pem(&files.key, source))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

fn write(path: &Path, contents: &str, mode: u32) -> Result<(), TlsError> {
    // Replace rather than rewrite, so an older file's looser mode is not kept.
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|source| io(path, source))
}

fn io(path: &Path, source: std::io::Error) -> TlsError {
    TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn pem(path: &Path, source: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn generated_once_then_reused_until_the_names_change() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("router-tls");
        let first = load_or_generate(&tls, &names(&["*.apps.test", "apps.test"])).unwrap();
        let mode = std::fs::metadata(&first.files.key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let ca = std::fs::read(&first.ca).unwrap();
        server_config(&first.files, true).unwrap();

        // Same names in another order: reused as is.
        let again = load_or_generate(&tls, &names(&["apps.test", "*.apps.test"])).unwrap();
        assert_eq!(again, first);
        assert_eq!(std::fs::read(&again.ca).unwrap(), ca);

        // New names: a new server certificate, from the CA clients already trust.
        let cert = std::fs::read(&first.files.cert).unwrap();
        let changed =
            load_or_generate(&tls, &names(&["*.apps.test", "apps.test", "x.test"])).unwrap();
        assert_eq!(std::fs::read(&changed.ca).unwrap(), ca);
        assert_ne!(std::fs::read(&changed.files.cert).unwrap(), cert);
        server_config(&changed.files, false).unwrap();
        verifies(&changed, "x.test");

        // Without the CA's key, a new CA.
        std::fs::remove_file(tls.join(CA_KEY_FILE)).unwrap();
        let fresh = load_or_generate(&tls, &names(&["*.apps.test"])).unwrap();
        assert_ne!(std::fs::read(&fresh.ca).unwrap(), ca);
    }

    /// A client that trusts only `generated.ca` accepts the server certificate for `host`.
    fn verifies(generated: &GeneratedCertificate, host: &str) {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{ServerName, UnixTime};
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&generated.ca).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        let chain: Vec<CertificateDer> = CertificateDer::pem_file_iter(&generated.files.cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        verifier
            .verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
            .unwrap();
    }

    #[test]
    fn missing_or_empty_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = CertificateFiles {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("key.pem"),
        };
        let err = server_config(&files, false).unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
        std::fs::write(&files.cert, "").unwrap();
        assert!(matches!(
            server_config(&files, false),
            Err(TlsError::NoCertificate(_))
        ));
    }
}
