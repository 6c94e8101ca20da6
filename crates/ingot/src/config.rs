//! Ingot's configuration: built-in defaults, overridden by an optional TOML file, overridden by
//! environment variables and flags (which clap merges before they reach here).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use ingot_core::DatabaseUrl;
use ingot_router::LoadBalancing;
use serde::Deserialize;

/// Where the few values Ingot takes from the process environment come from, so tests can fake it.
pub trait EnvSource {
    fn var(&self, name: &str) -> Option<String>;

    /// The machine's total memory.
    fn total_memory_mb(&self) -> Option<u64> {
        None
    }

    /// Free space on the filesystem holding `path` (or its nearest existing parent).
    fn free_disk_mb(&self, _path: &Path) -> Option<u64> {
        None
    }
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn total_memory_mb(&self) -> Option<u64> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kib: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024)
    }

    fn free_disk_mb(&self, path: &Path) -> Option<u64> {
        let existing = path.ancestors().find(|p| p.exists())?;
        let stat = nix::sys::statvfs::statvfs(existing).ok()?;
        Some(stat.blocks_available() * stat.fragment_size() / (1024 * 1024))
    }
}

/// The complete, resolved configuration of one `ingot` process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Databases, signing keys and admin credentials live here.
    pub data_dir: PathBuf,
    /// Cloud Controller listen address.
    pub api_addr: SocketAddr,
    /// UAA listen address.
    pub uaa_addr: SocketAddr,
    /// External API URL; derived from the bound address when unset.
    pub api_url: Option<String>,
    /// External UAA URL; derived from the bound address when unset. `ingot cc` requires it.
    pub uaa_url: Option<String>,
    /// The Cloud Controller database (default: SQLite file `cc.db` in the data dir).
    pub cc_database: DatabaseUrl,
    /// The UAA database (default: SQLite file `uaa.db` in the data dir).
    pub uaa_database: DatabaseUrl,
    /// BBS API listen address (Diego's default port 8889).
    pub bbs_addr: SocketAddr,
    /// External BBS URL; for `ingot cell`, the BBS to report to.
    pub bbs_url: Option<String>,
    /// Rep API listen address for `ingot cell` (Diego's default port 1800).
    pub rep_addr: SocketAddr,
    /// External rep URL the BBS and auctioneer use to reach this cell.
    pub rep_url: Option<String>,
    /// HTTP router listen address: apps are reached here by their route's Host.
    pub router_addr: SocketAddr,
    /// HTTPS listen address of the router; no HTTPS when unset.
    pub router_tls: Option<RouterTls>,
    /// How the router picks among a route's instances.
    pub router_load_balancing: LoadBalancing,
    /// log-cache's HTTP API (`cf logs`), served by `ingot up`.
    pub log_cache_addr: SocketAddr,
    /// External log-cache URL; derived from the bound address when unset. For `ingot router`,
    /// where `log-cache.<system_domain>` leads.
    pub log_cache_url: Option<String>,
    /// The BBS database (default: SQLite file `bbs.db` in the data dir).
    pub bbs_database: DatabaseUrl,
    /// The local cell: its id, zone, stacks and capacity.
    pub cell: CellSettings,
    /// The default shared domain for app routes (`<app>.<apps_domain>`).
    pub apps_domain: String,
    /// CF's system domain: the router serves the Cloud Controller at `api.<system_domain>`,
    /// the UAA at `uaa.` and `login.`, log-cache at `log-cache.`.
    pub system_domain: String,
    /// The `ingot` binary cells mount into containers as the lifecycle (builder and
    /// launcher); default: the running binary. Set by tests that run Ingot in-process.
    pub lifecycle_binary: Option<PathBuf>,
    /// Lifetime of access tokens issued to users and clients.
    pub access_token_validity: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_validity: Duration,
    /// The UAA client `ingot cc` uses to look users up (needs `scim.read`).
    pub uaa_client_id: String,
    /// Its secret; when unset, `ingot cc` reads the admin client's from the data dir.
    pub uaa_client_secret: Option<Secret>,
    /// Where apps' logs are forwarded besides log-cache, until service bindings provide drains.
    pub syslog_drains: Vec<SyslogDrainSettings>,
    /// What `ingot cell` and `ingot router` present to send envelopes to the log-cache at
    /// `log_cache_url`; `ingot cc` generates one in its data dir when unset.
    pub log_ingress_secret: Option<Secret>,
}

/// The router's HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterTls {
    pub addr: SocketAddr,
    /// PEM certificate chain and key; when unset, a CA and a certificate it signed are
    /// generated under `<data dir>/router-tls`.
    pub cert_and_key: Option<(PathBuf, PathBuf)>,
    /// Offer HTTP/2 (ALPN `h2`) besides HTTP/1.1.
    pub http2: bool,
}

/// One app's syslog drain (`[[syslog_drains]]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogDrainSettings {
    /// The app whose log lines are forwarded.
    pub app_guid: String,
    /// `syslog://host:port` (TCP) or `syslog-tls://host:port` (TLS).
    pub url: String,
}

/// What the local cell offers the auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellSettings {
    pub cell_id: String,
    pub zone: String,
    /// Stacks this cell runs, named as Cloud Foundry names them.
    pub stacks: Vec<String>,
    /// Memory the cell offers; by default the machine's total memory.
    pub memory_mb: u64,
    /// Disk the cell offers; by default the free space of the data dir's filesystem.
    pub disk_mb: u64,
    /// Most containers at once (Diego's default 250).
    pub max_containers: u64,
    /// How often the cell samples its containers' usage for `cf app` (Diego's default 15 s).
    pub metrics_interval: Duration,
    /// Which Garden backend runs the containers, and its settings.
    pub garden: GardenSettings,
}

/// Which Garden backend a cell uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GardenBackend {
    /// `linux` when running as root with the OCI runtime and tools present, else `process`.
    Auto,
    /// Real containers through an OCI runtime; fail to start when it cannot run.
    Linux,
    /// Plain processes, no isolation.
    Process,
}

impl std::str::FromStr for GardenBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "linux" => Ok(Self::Linux),
            "process" => Ok(Self::Process),
            other => Err(format!(
                "unknown Garden backend {other:?}: use auto, linux or process"
            )),
        }
    }
}

/// The cell's Garden backend settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GardenSettings {
    pub backend: GardenBackend,
    /// The OCI runtime the linux backend drives: `runc` (default) or `crun`, or a path.
    pub oci_runtime: PathBuf,
    /// The host bridge containers attach to.
    pub bridge: String,
    /// The private subnet container addresses come from.
    pub subnet: ingot_garden::linux::Subnet,
}

/// A configured secret: usable, but never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The optional TOML file: every key may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data_dir: Option<PathBuf>,
    pub api_addr: Option<SocketAddr>,
    pub uaa_addr: Option<SocketAddr>,
    pub api_url: Option<String>,
    pub uaa_url: Option<String>,
    pub cc_database: Option<String>,
    pub uaa_database: Option<String>,
    pub access_token_validity_seconds: Option<u64>,
    pub refresh_token_validity_seconds: Option<u64>,
    pub uaa_client_id: Option<String>,
    pub uaa_client_secret: Option<String>,
    pub bbs_addr: Option<SocketAddr>,
    pub bbs_url: Option<String>,
    pub bbs_database: Option<String>,
    pub rep_addr: Option<SocketAddr>,
    pub rep_url: Option<String>,
    pub router_addr: Option<SocketAddr>,
    pub router_tls_addr: Option<SocketAddr>,
    pub router_tls_cert: Option<PathBuf>,
    pub router_tls_key: Option<PathBuf>,
    pub router_http2: Option<bool>,
    pub router_load_balancing: Option<String>,
    pub log_cache_addr: Option<SocketAddr>,
    pub log_cache_url: Option<String>,
    pub log_ingress_secret: Option<String>,
    pub apps_domain: Option<String>,
    pub system_domain: Option<String>,
    pub cell_id: Option<String>,
    pub cell_zone: Option<String>,
    pub cell_stacks: Option<Vec<String>>,
    pub cell_memory_mb: Option<u64>,
    pub cell_disk_mb: Option<u64>,
    pub cell_max_containers: Option<u64>,
    pub cell_metrics_interval_seconds: Option<u64>,
    pub garden_backend: Option<String>,
    pub oci_runtime: Option<PathBuf>,
    pub container_bridge: Option<String>,
    pub container_subnet: Option<String>,
    #[serde(default)]
    pub syslog_drains: Vec<SyslogDrainSettings>,
}

impl ConfigFile {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in config file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }
}

/// Values from flags and environment variables, which win over the file.
#[derive(Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub api_addr: Option<SocketAddr>,
    pub uaa_addr: Option<SocketAddr>,
    pub api_url: Option<String>,
    pub uaa_url: Option<String>,
    pub uaa_client_id: Option<String>,
    pub uaa_client_secret: Option<String>,
    pub bbs_addr: Option<SocketAddr>,
    pub bbs_url: Option<String>,
    pub rep_addr: Option<SocketAddr>,
    pub rep_url: Option<String>,
    pub router_addr: Option<SocketAddr>,
    pub router_tls_addr: Option<SocketAddr>,
    pub log_cache_addr: Option<SocketAddr>,
    pub log_cache_url: Option<String>,
    pub log_ingress_secret: Option<String>,
    pub garden_backend: Option<GardenBackend>,
}

pub const DEFAULT_API_ADDR: &str = "127.0.0.1:9022";
pub const DEFAULT_UAA_ADDR: &str = "127.0.0.1:9023";
pub const DEFAULT_BBS_ADDR: &str = "127.0.0.1:8889";
pub const DEFAULT_REP_ADDR: &str = "127.0.0.1:1800";
pub const DEFAULT_ROUTER_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_LOG_CACHE_ADDR: &str = "127.0.0.1:9024";
/// Names under `.localhost` resolve to loopback (RFC 6761), so app routes work without DNS.
pub const DEFAULT_APPS_DOMAIN: &str = "apps.localhost";
/// So `api.localhost`, `uaa.localhost`, … reach the router on loopback without DNS too.
pub const DEFAULT_SYSTEM_DOMAIN: &str = "localhost";
/// The stack name Cloud Foundry apps, manifests and test suites ask for.
pub const DEFAULT_STACK: &str = "cflinuxfs4";
/// cf-deployment's validities for the `cf` client.
const DEFAULT_ACCESS_TOKEN_VALIDITY: u64 = 1200;
const DEFAULT_REFRESH_TOKEN_VALIDITY: u64 = 30 * 24 * 3600;
/// Diego's container metrics interval, in seconds.
const DEFAULT_METRICS_INTERVAL: u64 = 15;

impl Config {
    pub fn resolve(
        file: ConfigFile,
        flags: Overrides,
        env: &dyn EnvSource,
    ) -> anyhow::Result<Self> {
        let data_dir = match flags.data_dir.or(file.data_dir) {
            Some(dir) => dir,
            None => default_data_dir(env)?,
        };
        let database =
            |configured: Option<String>, file_name: &str| -> anyhow::Result<DatabaseUrl> {
                match configured {
                    Some(url) => url
                        .parse()
                        .with_context(|| format!("database URL for {file_name}")),
                    None => Ok(DatabaseUrl::sqlite(data_dir.join(file_name))),
                }
            };
        let cell = CellSettings {
            cell_id: file.cell_id.unwrap_or_else(|| "cell-0".into()),
            zone: file.cell_zone.unwrap_or_else(|| "z1".into()),
            stacks: file
                .cell_stacks
                .unwrap_or_else(|| vec![DEFAULT_STACK.into()]),
            memory_mb: file
                .cell_memory_mb
                .unwrap_or_else(|| env.total_memory_mb().unwrap_or(4096)),
            disk_mb: file
                .cell_disk_mb
                .unwrap_or_else(|| env.free_disk_mb(&data_dir).unwrap_or(10240)),
            max_containers: file.cell_max_containers.unwrap_or(250),
            metrics_interval: Duration::from_secs(
                file.cell_metrics_interval_seconds
                    .unwrap_or(DEFAULT_METRICS_INTERVAL),
            ),
            garden: GardenSettings {
                backend: match (flags.garden_backend, file.garden_backend) {
                    (Some(backend), _) => backend,
                    (None, Some(name)) => name
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!(e))
                        .context("garden_backend")?,
                    (None, None) => GardenBackend::Auto,
                },
                oci_runtime: file.oci_runtime.unwrap_or_else(|| "runc".into()),
                bridge: file.container_bridge.unwrap_or_else(|| "ingot0".into()),
                subnet: match file.container_subnet {
                    Some(text) => ingot_garden::linux::Subnet::parse(&text)
                        .map_err(|e| anyhow::anyhow!(e))
                        .context("container_subnet")?,
                    None => ingot_garden::linux::NetworkConfig::default().subnet,
                },
            },
        };
        let router_tls = match flags.router_tls_addr.or(file.router_tls_addr) {
            None => None,
            Some(addr) => Some(RouterTls {
                addr,
                cert_and_key: match (file.router_tls_cert, file.router_tls_key) {
                    (Some(cert), Some(key)) => Some((cert, key)),
                    (None, None) => None,
                    _ => anyhow::bail!("set both router_tls_cert and router_tls_key, or neither"),
                },
                http2: file.router_http2.unwrap_or(false),
            }),
        };
        let router_load_balancing = match file.router_load_balancing {
            Some(name) => name
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))
                .context("router_load_balancing")?,
            None => LoadBalancing::RoundRobin,
        };
        Ok(Self {
            cc_database: database(file.cc_database, "cc.db")?,
            uaa_database: database(file.uaa_database, "uaa.db")?,
            bbs_database: database(file.bbs_database, "bbs.db")?,
            bbs_addr: flags
                .bbs_addr
                .or(file.bbs_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_BBS_ADDR)),
            bbs_url: flags.bbs_url.or(file.bbs_url).map(trim_url),
            rep_addr: flags
                .rep_addr
                .or(file.rep_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_REP_ADDR)),
            rep_url: flags.rep_url.or(file.rep_url).map(trim_url),
            router_addr: flags
                .router_addr
                .or(file.router_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_ROUTER_ADDR)),
            router_tls,
            router_load_balancing,
            log_cache_addr: flags
                .log_cache_addr
                .or(file.log_cache_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_LOG_CACHE_ADDR)),
            log_cache_url: flags.log_cache_url.or(file.log_cache_url).map(trim_url),
            cell,
            apps_domain: file
                .apps_domain
                .unwrap_or_else(|| DEFAULT_APPS_DOMAIN.into()),
            system_domain: file
                .system_domain
                .unwrap_or_else(|| DEFAULT_SYSTEM_DOMAIN.into()),
            lifecycle_binary: None,
            api_addr: flags
                .api_addr
                .or(file.api_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_API_ADDR)),
            uaa_addr: flags
                .uaa_addr
                .or(file.uaa_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_UAA_ADDR)),
            api_url: flags.api_url.or(file.api_url).map(trim_url),
            uaa_url: flags.uaa_url.or(file.uaa_url).map(trim_url),
            access_token_validity: Duration::from_secs(
                file.access_token_validity_seconds
                    .unwrap_or(DEFAULT_ACCESS_TOKEN_VALIDITY),
            ),
            refresh_token_validity: Duration::from_secs(
                file.refresh_token_validity_seconds
                    .unwrap_or(DEFAULT_REFRESH_TOKEN_VALIDITY),
            ),
            uaa_client_id: flags
                .uaa_client_id
                .or(file.uaa_client_id)
                .unwrap_or_else(|| "admin".into()),
            uaa_client_secret: flags
                .uaa_client_secret
                .or(file.uaa_client_secret)
                .map(Secret),
            syslog_drains: file.syslog_drains,
            log_ingress_secret: flags
                .log_ingress_secret
                .or(file.log_ingress_secret)
                .map(Secret),
            data_dir,
        })
    }

    /// Defaults only, with everything stored under `data_dir` and listeners on free ports.
    /// What tests and benchmarks start from.
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Self {
        let flags = Overrides {
            data_dir: Some(data_dir.into()),
            api_addr: Some(parse_addr("127.0.0.1:0")),
            uaa_addr: Some(parse_addr("127.0.0.1:0")),
            bbs_addr: Some(parse_addr("127.0.0.1:0")),
            rep_addr: Some(parse_addr("127.0.0.1:0")),
            router_addr: Some(parse_addr("127.0.0.1:0")),
            log_cache_addr: Some(parse_addr("127.0.0.1:0")),
            // Tests that want containers ask for them.
            garden_backend: Some(GardenBackend::Process),
            ..Overrides::default()
        };
        Self::resolve(ConfigFile::default(), flags, &NoEnv).expect("defaults always resolve")
    }
}

struct NoEnv;

impl EnvSource for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fn parse_addr(addr: &str) -> SocketAddr {
    addr.parse().expect("built-in address is valid")
}

fn trim_url(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

/// `$XDG_DATA_HOME/ingot`, else `$HOME/.local/share/ingot`.
fn default_data_dir(env: &dyn EnvSource) -> anyhow::Result<PathBuf> {
    if let Some(xdg) = env.var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(xdg).join("ingot"));
    }
    let home = env
        .var("HOME")
        .context("cannot choose a data directory: set --data-dir, INGOT_DATA_DIR or HOME")?;
    Ok(PathBuf::from(home).join(".local/share/ingot"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl EnvSource for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    #[test]
    fn defaults_need_nothing_but_a_home() {
        let env = FakeEnv(HashMap::from([("HOME", "/home/dev")]));
        let config = Config::resolve(ConfigFile::default(), Overrides::default(), &env).unwrap();
        assert_eq!(
            config.data_dir,
            PathBuf::from("/home/dev/.local/share/ingot")
        );
        assert_eq!(config.api_addr.to_string(), DEFAULT_API_ADDR);
        assert_eq!(config.uaa_addr.to_string(), DEFAULT_UAA_ADDR);
        assert_eq!(
            config.cc_database,
            DatabaseUrl::sqlite("/home/dev/.local/share/ingot/cc.db")
        );
        assert_eq!(config.access_token_validity, Duration::from_secs(1200));
        assert_eq!(config.bbs_addr.to_string(), DEFAULT_BBS_ADDR);
        assert_eq!(config.cell.stacks, vec!["cflinuxfs4".to_owned()]);
        assert_eq!(config.cell.max_containers, 250);
        assert_eq!(config.cell.metrics_interval, Duration::from_secs(15));
        assert_eq!(config.system_domain, "localhost");
        assert_eq!(config.router_tls, None);
        assert_eq!(config.router_load_balancing, LoadBalancing::RoundRobin);
    }

    #[test]
    fn router_keys() {
        let env = FakeEnv(HashMap::from([("HOME", "/h")]));
        let file = ConfigFile::parse(
            "system_domain = \"sys.example.test\"\nrouter_tls_addr = \"0.0.0.0:443\"\n\
             router_http2 = true\nrouter_load_balancing = \"least-connection\"\n\
             log_cache_url = \"http://logs.example.test/\"\n",
        )
        .unwrap();
        let config = Config::resolve(file, Overrides::default(), &env).unwrap();
        assert_eq!(config.system_domain, "sys.example.test");
        assert_eq!(
            config.router_tls,
            Some(RouterTls {
                addr: "0.0.0.0:443".parse().unwrap(),
                cert_and_key: None,
                http2: true,
            })
        );
        assert_eq!(config.router_load_balancing, LoadBalancing::LeastConnection);
        assert_eq!(
            config.log_cache_url.as_deref(),
            Some("http://logs.example.test")
        );

        // The flag wins over the file; a configured certificate needs its key.
        let file = ConfigFile::parse(
            "router_tls_addr = \"0.0.0.0:443\"\nrouter_tls_cert = \"/c.pem\"\nrouter_tls_key = \"/k.pem\"\n",
        )
        .unwrap();
        let flags = Overrides {
            router_tls_addr: Some("127.0.0.1:8443".parse().unwrap()),
            ..Overrides::default()
        };
        let tls = Config::resolve(file, flags, &env)
            .unwrap()
            .router_tls
            .unwrap();
        assert_eq!(tls.addr.to_string(), "127.0.0.1:8443");
        assert_eq!(
            tls.cert_and_key,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        assert!(!tls.http2);
        let half =
            ConfigFile::parse("router_tls_addr = \"0.0.0.0:443\"\nrouter_tls_cert = \"/c.pem\"\n");
        assert!(Config::resolve(half.unwrap(), Overrides::default(), &env).is_err());
        let bad = ConfigFile::parse("router_load_balancing = \"random\"").unwrap();
        let err = Config::resolve(bad, Overrides::default(), &env).unwrap_err();
        assert!(format!("{err:#}").contains("least-connection"), "{err:#}");
    }

    #[test]
    fn the_real_machine_reports_memory_and_disk() {
        assert!(ProcessEnv.total_memory_mb().unwrap() > 0);
        assert!(
            ProcessEnv
                .free_disk_mb(Path::new("/nonexistent/below/root"))
                .unwrap()
                > 0
        );
    }

    #[test]
    fn xdg_data_home_wins_over_home() {
        let env = FakeEnv(HashMap::from([
            ("HOME", "/home/dev"),
            ("XDG_DATA_HOME", "/data"),
        ]));
        let config = Config::resolve(ConfigFile::default(), Overrides::default(), &env).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/data/ingot"));
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file = ConfigFile::parse(
            "data_dir = \"/from/file\"\napi_addr = \"0.0.0.0:8000\"\nuaa_url = \"http://uaa.example/\"\n\
             access_token_validity_seconds = 60\ncell_metrics_interval_seconds = 1\n",
        )
        .unwrap();
        let flags = Overrides {
            data_dir: Some("/from/flag".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(file, flags, &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(config.api_addr.to_string(), "0.0.0.0:8000");
        assert_eq!(config.uaa_url.as_deref(), Some("http://uaa.example"));
        assert_eq!(config.access_token_validity, Duration::from_secs(60));
        assert_eq!(config.cell.metrics_interval, Duration::from_secs(1));
    }

    #[test]
    fn syslog_drains_are_a_table_array() {
        let file = ConfigFile::parse(
            "[[syslog_drains]]\napp_guid = \"a1\"\nurl = \"syslog://127.0.0.1:514\"\n\
             [[syslog_drains]]\napp_guid = \"a1\"\nurl = \"syslog-tls://logs.example:6514\"\n",
        )
        .unwrap();
        let env = FakeEnv(HashMap::from([("HOME", "/h")]));
        let config = Config::resolve(file, Overrides::default(), &env).unwrap();
        assert_eq!(config.syslog_drains.len(), 2);
        assert_eq!(
            config.syslog_drains[1].url,
            "syslog-tls://logs.example:6514"
        );
        assert!(ConfigFile::parse("[[syslog_drains]]\napp_guid = \"a1\"\n").is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let flags = Overrides {
            uaa_client_secret: Some("hunter2".into()),
            ..Overrides::default()
        };
        let env = FakeEnv(HashMap::from([("HOME", "/h")]));
        let config = Config::resolve(ConfigFile::default(), flags, &env).unwrap();
        assert_eq!(config.uaa_client_secret, Some(Secret("hunter2".into())));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_keys_and_bad_database_urls_are_rejected() {
        assert!(ConfigFile::parse("data_dri = \"/x\"").is_err());
        let file = ConfigFile::parse("cc_database = \"mysql://x\"").unwrap();
        let env = FakeEnv(HashMap::from([("HOME", "/h")]));
        assert!(Config::resolve(file, Overrides::default(), &env).is_err());
    }

    #[test]
    fn without_home_or_data_dir_the_error_says_what_to_set() {
        let err = Config::resolve(
            ConfigFile::default(),
            Overrides::default(),
            &FakeEnv(HashMap::new()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--data-dir"));
    }
}
