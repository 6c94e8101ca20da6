//! Starting Ingot's components, in-process, in dependency order: the UAA first (the Cloud
//! Controller verifies its tokens), then the Cloud Controller, then Diego: the BBS (with its
//! auctioneer and converger), the local cell (rep and executor on a Garden backend), and the
//! router with the route emitter that feeds it from the BBS.

use std::sync::Arc;

use anyhow::Context;
use ingot_bbs::{Bbs, BbsApi, BbsClient, BbsConfig, BbsDeps, RepClientFactory};
use ingot_capi::{CloudController, CloudControllerConfig, CloudControllerDeps, LogCacheMetrics};
use ingot_core::{Clock, IdGen, Metrics, Shutdown, SystemClock, UuidIds};
use ingot_logging::{EnvelopeForwarder, EnvelopeSink, LogCache, LogCacheConfig, ingress_router};
use ingot_rep::{
    Cell, CellCapacity, CellConfig, CellDeps, HttpRepClients, LocalRepClients, LogSink,
    TracingLogSink,
};
use ingot_router::{
    AccessLogSink, EmitterConfig, RouteEmitter, RouteTable, Router, RouterConfig, TracingAccessLog,
};
use ingot_uaa::{AdminBootstrap, Uaa, UaaClient, UaaConfig, UserDirectory};
use tokio::net::TcpListener;

use crate::routing::{self, Backend, SystemComponents};
use crate::{config::Config, credentials::AdminCredentials, group::Group};

/// Which components this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `ingot up`: everything.
    All,
    /// `ingot uaa`.
    Uaa,
    /// `ingot cc`.
    CloudController,
    /// `ingot bbs`: the BBS with its auctioneer and converger, reaching cells over HTTP.
    Bbs,
    /// `ingot cell`: a rep and executor serving the rep API, reporting to a BBS over HTTP.
    Cell,
    /// `ingot router`: the HTTP router and its route emitter, following a BBS over HTTP.
    Router,
}

/// The URLs clients use to reach this process's components.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub api_url: Option<String>,
    pub uaa_url: Option<String>,
    pub bbs_url: Option<String>,
    pub rep_url: Option<String>,
    pub router_url: Option<String>,
    /// The router's HTTPS listener, when configured.
    pub router_tls_url: Option<String>,
    /// The CA that signed the router's generated certificate, for clients to trust.
    pub router_ca: Option<std::path::PathBuf>,
    /// The Cloud Controller through the router: `http://api.<system domain>:<router port>`.
    pub system_api_url: Option<String>,
    pub log_cache_url: Option<String>,
}

/// A running Ingot process.
pub struct Ingot {
    endpoints: Endpoints,
    credentials: Option<AdminCredentials>,
    shutdown: Shutdown,
    group: Group,
    uaa: Option<Uaa>,
    cc: Option<CloudController>,
    bbs: Option<Bbs>,
    cell: Option<Cell>,
}

impl Ingot {
    /// Starts the components `role` names and returns once every listener is bound and serving.
    pub async fn start(config: Config, role: Role) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ids: Arc<dyn IdGen> = Arc::new(UuidIds);
        let shutdown = Shutdown::new();
        let mut group = Group::new(shutdown.clone());
        // One registry per process: every component's listener serves all of it on /metrics.
        let metrics = Metrics::new();
        tracing::info!(data_dir = %config.data_dir.display(), "starting ingot");

        // What the router serves at the system domain's hosts: the listeners bound below.
        let mut system = SystemComponents::default();
        let (uaa, uaa_url, credentials) = match role {
            Role::All | Role::Uaa => {
                let credentials = AdminCredentials::load_or_create(&config.data_dir)?;
                let listener = bind(config.uaa_addr, "UAA").await?;
                system.uaa = Some(Backend::listening_at(listener.local_addr()?));
                let uaa_url = external_url(config.uaa_url.as_deref(), &listener)?;
                tracing::info!(database = ?config.uaa_database, "starting UAA");
                let uaa = Uaa::start(
                    UaaConfig {
                        database: config.uaa_database.clone(),
                        url: uaa_url.clone(),
                        access_token_validity: config.access_token_validity,
                        refresh_token_validity: config.refresh_token_validity,
                        admin: AdminBootstrap {
                            username: credentials.admin_username.clone(),
                            password: credentials.admin_password.clone(),
                            client_id: credentials.admin_client_id.clone(),
                            client_secret: credentials.admin_client_secret.clone(),
                        },
                    },
                    clock.clone(),
                    ids.clone(),
                    shutdown.clone(),
                )
                .await
                .context("starting UAA")?;
                let router = metrics.instrument("uaa", uaa.router());
                group.spawn("uaa", serve(listener, router, shutdown.clone()));
                (Some(uaa), Some(uaa_url), Some(credentials))
            }
            Role::CloudController => {
                let url = config
                    .uaa_url
                    .clone()
                    .context("`ingot cc` needs the UAA's URL: set --uaa-url or INGOT_UAA_URL")?;
                (None, Some(url), None)
            }
            Role::Bbs | Role::Cell | Role::Router => (None, None, None),
        };

        // log-cache runs with the Cloud Controller, which decides who may read which app's
        // logs. In `ingot up` every component writes into it directly; a cell or router running
        // alone forwards its envelopes to it (`--log-cache-url`) through its ingress.
        let log_cache = matches!(role, Role::All | Role::CloudController)
            .then(|| LogCache::new(LogCacheConfig::default(), clock.clone()));
        let log_cache_listener = match log_cache {
            Some(_) => Some(bind(config.log_cache_addr, "log-cache").await?),
            None => None,
        };
        let log_cache_url = log_cache_listener
            .as_ref()
            .map(|listener| {
                system.log_cache = Some(Backend::listening_at(listener.local_addr()?));
                external_url(config.log_cache_url.as_deref(), listener)
            })
            .transpose()?;
        // App log lines also go to the apps' syslog drains.
        let app_logs = match &log_cache {
            Some(cache) => Some(crate::logs::AppLogs::new(
                cache.clone(),
                &config.syslog_drains,
            )?),
            None => None,
        };
        if let Some(logs) = &app_logs {
            logs.register_metrics(&metrics);
        }
        let forwarder = match (role, &config.log_cache_url) {
            (Role::Cell | Role::Router, Some(url)) => {
                let secret = config.log_ingress_secret.as_ref().with_context(|| {
                    format!(
                        "forwarding logs to {url} needs its ingress secret: set --log-ingress-secret or INGOT_LOG_INGRESS_SECRET (`ingot cc` keeps it in <data dir>/{})",
                        crate::credentials::LOG_INGRESS_SECRET_FILE
                    )
                })?;
                let forwarder = EnvelopeForwarder::start(url, &secret.0, shutdown.clone())
                    .with_context(|| format!("forwarding logs to {url}"))?;
                crate::logs::register_forwarder_metrics(&forwarder, &metrics);
                Some(forwarder)
            }
            _ => None,
        };
        // Where this process's app log lines go: the cache (and drains) here, or the forwarder.
        let envelopes: Option<Arc<dyn EnvelopeSink>> = match (&app_logs, &forwarder) {
            (Some(logs), _) => Some(Arc::new(logs.clone())),
            (None, Some(forwarder)) => Some(Arc::new(forwarder.clone())),
            (None, None) => None,
        };
        let cell_logs: Arc<dyn LogSink> = match &envelopes {
            Some(sink) => Arc::new(crate::logs::CellLogs(sink.clone())),
            None => Arc::new(TracingLogSink),
        };
        let access_log: Arc<dyn AccessLogSink> = match &envelopes {
            Some(sink) => Arc::new(crate::logs::RouterLogs(sink.clone())),
            None => Arc::new(TracingAccessLog),
        };
        // Container metrics go into the cache (not the drains), where the Cloud Controller's
        // process stats read them.
        let cell_metrics: Arc<dyn EnvelopeSink> = match (&log_cache, &forwarder) {
            (Some(cache), _) => Arc::new(cache.clone()),
            (None, Some(forwarder)) => Arc::new(forwarder.clone()),
            (None, None) => Arc::new(crate::logs::DroppedMetrics),
        };

        // The Cloud Controller verifies tokens and looks users up in-process when the UAA runs
        // here, and over the UAA's HTTP API when it runs elsewhere: same code, two wirings.
        let uaa_access = match (role, &uaa) {
            (Role::All, Some(uaa)) => Some((uaa.verifier(), uaa.directory())),
            (Role::CloudController, _) => {
                let secret = match &config.uaa_client_secret {
                    Some(secret) => secret.0.clone(),
                    None => AdminCredentials::read(&config.data_dir)
                        .context("`ingot cc` needs a UAA client secret: set --uaa-client-secret or INGOT_UAA_CLIENT_SECRET")?
                        .admin_client_secret,
                };
                let uaa_url = uaa_url.as_deref().unwrap_or_default();
                let client = UaaClient::new(uaa_url, &config.uaa_client_id, &secret);
                let verifier = client
                    .fetch_verifier()
                    .await
                    .with_context(|| format!("fetching token keys from the UAA at {uaa_url}"))?;
                let users: Arc<dyn UserDirectory> = Arc::new(client);
                Some((verifier, users))
            }
            _ => None,
        };

        // Diego: in `ingot up` the BBS reaches the cell in-process through a registry the cell
        // joins; apart, they reach each other over their HTTP APIs.
        let mut diego = Diego {
            clock,
            ids,
            cell_logs,
            cell_metrics,
            access_log,
            metrics: metrics.clone(),
            group: &mut group,
            shutdown: shutdown.clone(),
        };
        let (bbs, cell, bbs_url, rep_url) = match role {
            Role::All => {
                let reps = LocalRepClients::new();
                let (bbs, bbs_url) = diego.start_bbs(&config, Arc::new(reps.clone())).await?;
                let cell = diego
                    .start_cell(&config, Arc::new(bbs.clone()), Some(reps), None)
                    .await?;
                (Some(bbs), Some(cell), Some(bbs_url), None)
            }
            Role::Bbs => {
                let (bbs, bbs_url) = diego
                    .start_bbs(&config, Arc::new(HttpRepClients::new()))
                    .await?;
                (Some(bbs), None, Some(bbs_url), None)
            }
            Role::Router => {
                let bbs_url = config.bbs_url.clone().context(
                    "`ingot router` needs the BBS's URL: set --bbs-url or INGOT_BBS_URL",
                )?;
                (None, None, Some(bbs_url), None)
            }
            Role::Cell => {
                let bbs_url = config
                    .bbs_url
                    .clone()
                    .context("`ingot cell` needs the BBS's URL: set --bbs-url or INGOT_BBS_URL")?;
                let bbs = BbsClient::new(&bbs_url)
                    .with_context(|| format!("a BBS client for {bbs_url}"))?;
                let listener = bind(config.rep_addr, "rep").await?;
                let rep_url = external_url(config.rep_url.as_deref(), &listener)?;
                let cell = diego
                    .start_cell(&config, Arc::new(bbs), None, Some(rep_url.clone()))
                    .await?;
                let router = metrics.instrument("rep", cell.router());
                diego
                    .group
                    .spawn("rep", serve(listener, router, shutdown.clone()));
                (None, Some(cell), Some(bbs_url), Some(rep_url))
            }
            Role::Uaa | Role::CloudController => (None, None, None, None),
        };

        // The Cloud Controller runs apps on Diego: the BBS in this process, or at --bbs-url.
        let cc_bbs: Option<Arc<dyn BbsApi>> = match (role, &bbs) {
            (Role::All, Some(bbs)) => Some(Arc::new(bbs.clone())),
            (Role::CloudController, _) => {
                let url = config
                    .bbs_url
                    .clone()
                    .context("`ingot cc` needs the BBS's URL: set --bbs-url or INGOT_BBS_URL")?;
                Some(Arc::new(
                    BbsClient::new(&url).with_context(|| format!("a BBS client for {url}"))?,
                ))
            }
            _ => None,
        };
        let (cc, api_url) = match (uaa_access, cc_bbs, &log_cache, &app_logs) {
            (Some((verifier, users)), Some(cc_bbs), Some(cache), Some(app_logs)) => {
                let listener = bind(config.api_addr, "Cloud Controller").await?;
                let api_url = external_url(config.api_url.as_deref(), &listener)?;
                system.cloud_controller = Some(Backend::listening_at(listener.local_addr()?));
                tracing::info!(database = ?config.cc_database, "starting Cloud Controller");
                let cc = CloudController::start(
                    CloudControllerConfig {
                        database: config.cc_database.clone(),
                        external_url: api_url.clone(),
                        uaa_url: uaa_url.clone().unwrap_or_default(),
                        log_cache_url: log_cache_url.clone(),
                        settings: cc_settings(&config, &api_url)?,
                    },
                    CloudControllerDeps {
                        verifier,
                        users,
                        clock: diego.clock.clone(),
                        ids: diego.ids.clone(),
                        bbs: cc_bbs,
                        logs: Arc::new(app_logs.clone()),
                        metrics: Arc::new(LogCacheMetrics::new(cache.clone(), diego.clock.clone())),
                    },
                    shutdown.clone(),
                )
                .await
                .context("starting Cloud Controller")?;
                cc.register_metrics(&metrics);
                let router = metrics.instrument("cc", cc.router());
                diego.group.spawn(
                    "cloud_controller",
                    serve(listener, router, shutdown.clone()),
                );
                (Some(cc), Some(api_url))
            }
            _ => (None, None),
        };

        if let (Some(cache), Some(listener), Some(cc), Some(app_logs)) =
            (log_cache, log_cache_listener, &cc, app_logs)
        {
            cache.register_metrics(&metrics);
            let mut router = ingot_logging::router(cache, cc.log_access());
            // Cells and routers running alone send their envelopes here.
            if role == Role::CloudController {
                let secret = match &config.log_ingress_secret {
                    Some(secret) => secret.0.clone(),
                    None => crate::credentials::log_ingress_secret(&config.data_dir)?,
                };
                router = router.merge(ingress_router(Arc::new(app_logs), &secret));
            }
            let router = metrics.instrument("log_cache", router);
            diego
                .group
                .spawn("log_cache", serve(listener, router, shutdown.clone()));
        }

        // The router follows the BBS: in-process in `ingot up`, over HTTP on its own.
        let routed_bbs: Option<Arc<dyn BbsApi>> = match (role, &bbs, &bbs_url) {
            (Role::All, Some(bbs), _) => Some(Arc::new(bbs.clone())),
            (Role::Router, _, Some(url)) => Some(Arc::new(
                BbsClient::new(url).with_context(|| format!("a BBS client for {url}"))?,
            )),
            _ => None,
        };
        if role == Role::Router {
            system = SystemComponents::at_urls(&config)?;
        }
        let router = match routed_bbs {
            Some(bbs) => Some(diego.start_router(&config, bbs, &system).await?),
            None => None,
        };

        Ok(Self {
            endpoints: Endpoints {
                api_url,
                uaa_url,
                bbs_url,
                rep_url,
                router_url: router.as_ref().map(|r| r.url.clone()),
                router_tls_url: router.as_ref().and_then(|r| r.tls_url.clone()),
                router_ca: router.as_ref().and_then(|r| r.ca.clone()),
                system_api_url: router.and_then(|r| r.system_api_url),
                log_cache_url,
            },
            credentials,
            shutdown,
            group,
            uaa,
            cc,
            bbs,
            cell,
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The admin credentials, when this process runs the UAA.
    pub fn credentials(&self) -> Option<&AdminCredentials> {
        self.credentials.as_ref()
    }

    /// Cancelling this token stops the process gracefully.
    pub fn shutdown_token(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Runs until shutdown is requested or a component fails, then closes the components in
    /// reverse start order.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.group.wait().await;
        if let Some(cell) = &self.cell {
            // Containers keep running; the next start re-adopts them, as a Diego rep does.
            cell.stop().await;
        }
        if let Some(bbs) = &self.bbs {
            bbs.close().await;
        }
        if let Some(cc) = &self.cc {
            cc.close().await;
        }
        if let Some(uaa) = &self.uaa {
            uaa.close().await;
        }
        result
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// `ingot up` and the single-component commands: start, say where everything is, run until SIGINT or SIGTERM.
pub async fn run(config: Config, role: Role) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let ingot = Ingot::start(config, role).await?;
    print_banner(&ingot, &data_dir);
    let shutdown = ingot.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    ingot.wait().await
}

fn print_banner(ingot: &Ingot, data_dir: &std::path::Path) {
    let endpoints = ingot.endpoints();
    println!("Ingot {} is running.", env!("CARGO_PKG_VERSION"));
    println!("  data directory: {}", data_dir.display());
    if let Some(api) = &endpoints.api_url {
        println!("  API endpoint:   {api}");
    }
    if let Some(uaa) = &endpoints.uaa_url {
        println!("  UAA endpoint:   {uaa}");
    }
    if let Some(bbs) = &endpoints.bbs_url {
        println!("  BBS endpoint:   {bbs}");
    }
    if let Some(rep) = &endpoints.rep_url {
        println!("  rep endpoint:   {rep}");
    }
    if let Some(log_cache) = &endpoints.log_cache_url {
        println!("  log-cache:      {log_cache}");
    }
    if let Some(router) = &endpoints.router_url {
        println!(
            "  router:         {router}  (apps by Host header, e.g. curl -H 'Host: APP.DOMAIN' {router}/)"
        );
        println!("  router health:  {router}/health  (200 for any Host that is not a route)");
    }
    if let Some(https) = &endpoints.router_tls_url {
        println!("  router HTTPS:   {https}");
    }
    if let Some(ca) = &endpoints.router_ca {
        println!(
            "  router CA:      {}  (curl --cacert it, or cf api --skip-ssl-validation)",
            ca.display()
        );
    }
    if let Some(api) = &endpoints.system_api_url {
        println!(
            "  system domain:  {api}  (the API through the router; uaa., login., log-cache. likewise)"
        );
    }
    if let Some(c) = ingot.credentials() {
        println!(
            "  admin user:     {} / {}",
            c.admin_username, c.admin_password
        );
        println!(
            "  admin client:   {} / {}",
            c.admin_client_id, c.admin_client_secret
        );
        println!(
            "  (kept in {})",
            data_dir.join(crate::credentials::FILE_NAME).display()
        );
        if let Some(api) = &endpoints.api_url {
            println!();
            println!("  cf api {api}");
            println!("  cf auth {} {}", c.admin_username, c.admin_password);
        }
    }
    println!();
}

/// Where the router listens.
struct RouterUrls {
    url: String,
    tls_url: Option<String>,
    ca: Option<std::path::PathBuf>,
    system_api_url: Option<String>,
}

/// What starting Diego's components needs.
struct Diego<'a> {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    cell_logs: Arc<dyn LogSink>,
    cell_metrics: Arc<dyn EnvelopeSink>,
    /// Where the router's access-log records go.
    access_log: Arc<dyn AccessLogSink>,
    metrics: Metrics,
    group: &'a mut Group,
    shutdown: Shutdown,
}

impl Diego<'_> {
    /// The HTTP router (and its HTTPS listener when configured) with the system domain's
    /// static routes, and the route emitter that keeps its table in step with the BBS.
    async fn start_router(
        &mut self,
        config: &Config,
        bbs: Arc<dyn BbsApi>,
        system: &SystemComponents,
    ) -> anyhow::Result<RouterUrls> {
        let listener = bind(config.router_addr, "router").await?;
        let url = external_url(None, &listener)?;
        let router_addr = listener.local_addr()?;
        let system_api_url = system
            .cloud_controller
            .is_some()
            .then(|| routing::system_url("http", "api", &config.system_domain, router_addr));
        let table = RouteTable::shared(config.router_load_balancing);
        for (route, endpoint) in system.routes(&config.system_domain) {
            table
                .lock()
                .expect("route table lock")
                .add_static(&route, endpoint);
        }
        let emitter = RouteEmitter::new(bbs, table.clone(), EmitterConfig::default());
        let shutdown = self.shutdown.clone();
        self.group.spawn("route_emitter", async move {
            emitter.run(shutdown).await;
            Ok(())
        });
        let router =
            Router::new(RouterConfig::default(), table).with_access_log(self.access_log.clone());
        let router = router.with_metrics(&self.metrics);
        let (tls_url, ca) = match &config.router_tls {
            Some(https) => {
                let (tls, ca) = routing::server_config(config, https)?;
                let listener = bind(https.addr, "router (HTTPS)").await?;
                let tls_url = external_url(None, &listener)?.replacen("http:", "https:", 1);
                let (router, shutdown) = (router.clone(), self.shutdown.clone());
                self.group.spawn("router_tls", async move {
                    router
                        .serve_tls(listener, tls, shutdown)
                        .await
                        .map_err(Into::into)
                });
                (Some(tls_url), ca)
            }
            None => (None, None),
        };
        let shutdown = self.shutdown.clone();
        self.group.spawn("router", async move {
            router.serve(listener, shutdown).await.map_err(Into::into)
        });
        Ok(RouterUrls {
            url,
            tls_url,
            ca,
            system_api_url,
        })
    }

    /// The BBS (with its auctioneer and converger) on its own listener.
    async fn start_bbs(
        &mut self,
        config: &Config,
        rep_clients: Arc<dyn RepClientFactory>,
    ) -> anyhow::Result<(Bbs, String)> {
        let listener = bind(config.bbs_addr, "BBS").await?;
        let bbs_url = external_url(config.bbs_url.as_deref(), &listener)?;
        tracing::info!(database = ?config.bbs_database, "starting BBS");
        let bbs = Bbs::start(
            BbsConfig::new(config.bbs_database.clone()),
            BbsDeps {
                clock: self.clock.clone(),
                ids: self.ids.clone(),
                rep_clients,
            },
            self.shutdown.clone(),
        )
        .await
        .context("starting BBS")?;
        bbs.register_metrics(&self.metrics);
        let router = self.metrics.instrument("bbs", bbs.router());
        self.group
            .spawn("bbs", serve(listener, router, self.shutdown.clone()));
        Ok((bbs, bbs_url))
    }

    /// A cell on this machine: Garden (see `cell_garden`), and a rep that registers with the
    /// BBS (in-process through `local_reps`, or at `rep_url` over HTTP).
    async fn start_cell(
        &mut self,
        config: &Config,
        bbs: Arc<dyn BbsApi>,
        local_reps: Option<LocalRepClients>,
        rep_url: Option<String>,
    ) -> anyhow::Result<Cell> {
        let settings = &config.cell;
        let garden = crate::cell_garden::open(config).await?;
        tracing::info!(cell_id = %settings.cell_id, "starting cell");
        let cell = Cell::start(
            CellConfig {
                zone: settings.zone.clone(),
                stacks: settings.stacks.clone(),
                capacity: CellCapacity {
                    memory_mb: settings.memory_mb,
                    disk_mb: settings.disk_mb,
                    containers: u32::try_from(settings.max_containers).unwrap_or(u32::MAX),
                },
                download_cache_dir: Some(config.data_dir.join("download-cache")),
                lifecycle_dir: Some(lifecycle_dir(config)?),
                rep_url: rep_url.unwrap_or_default(),
                metrics_interval: settings.metrics_interval,
                ..CellConfig::new(settings.cell_id.clone())
            },
            CellDeps {
                bbs,
                garden,
                logs: self.cell_logs.clone(),
                metrics: self.cell_metrics.clone(),
                clock: self.clock.clone(),
                ids: self.ids.clone(),
                local_reps,
            },
            self.shutdown.clone(),
        )
        .await
        .context("starting cell")?;
        cell.register_metrics(&self.metrics);
        Ok(cell)
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM ({e}); stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{what} cannot listen on {addr}"))
}

/// The configured external URL, or `http://<bound address>` when none is configured.
fn external_url(configured: Option<&str>, listener: &TcpListener) -> anyhow::Result<String> {
    if let Some(url) = configured {
        return Ok(url.to_owned());
    }
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Ok(format!("http://{host}:{}", addr.port()))
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    ingot_core::serve(listener, router, shutdown)
        .await
        .map_err(Into::into)
}

/// How the Cloud Controller runs apps: blobs under the data dir, internal URLs signed with a
/// key kept there.
fn cc_settings(config: &Config, api_url: &str) -> anyhow::Result<ingot_capi::Settings> {
    let secret = crate::credentials::internal_secret(&config.data_dir)?;
    let mut settings =
        ingot_capi::Settings::new(api_url, &secret, config.data_dir.join("blobstore"));
    settings.apps_domain = config.apps_domain.clone();
    settings.system_domain = config.system_domain.clone();
    settings.stacks = vec![(
        crate::config::DEFAULT_STACK.to_owned(),
        crate::cell_garden::stack_description(
            &config.data_dir,
            crate::cell_garden::uses_containers(config),
        ),
    )];
    settings.builtin_buildpacks = crate::buildpacks::BUILTIN_BUILDPACKS
        .iter()
        .map(|(name, zip)| ingot_capi::BuiltinBuildpack {
            name: (*name).to_owned(),
            zip,
        })
        .collect();
    Ok(settings)
}

/// A directory holding the lifecycle the cell mounts into containers: `ingot`, this binary
/// (or the configured one), so builder and launcher match the running cell.
fn lifecycle_dir(config: &Config) -> anyhow::Result<std::path::PathBuf> {
    let binary = match &config.lifecycle_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("locating the ingot binary")?,
    };
    let dir = config.data_dir.join("lifecycle");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let link = dir.join("ingot");
    let _ = std::fs::remove_file(&link);
    // A hard link (or a copy across file systems), not a symlink: a container sees the
    // directory through a bind mount, where a link to a host path would lead nowhere.
    if std::fs::hard_link(&binary, &link).is_err() {
        std::fs::copy(&binary, &link)
            .with_context(|| format!("copying {} to {}", binary.display(), link.display()))?;
    }
    Ok(dir)
}
