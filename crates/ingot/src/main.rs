use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ingot::config::{Config, ConfigFile, Overrides};

mod stack;

/// jemalloc hands freed memory back to the OS on a timer. With glibc's allocator the 19 MiB
/// argon2 blocks of every concurrent login stay resident in per-thread arenas, so memory after a
/// login burst never came back down.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Cloud Foundry in one binary.
#[derive(Parser)]
#[command(name = "ingot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all of Ingot in this process: UAA and the Cloud Controller.
    Up(ComponentArgs),
    /// Run only the UAA (token server and users).
    Uaa(ComponentArgs),
    /// Run only the Cloud Controller, against a UAA given by --uaa-url.
    Cc(ComponentArgs),
    /// Run only Diego's BBS (with the auctioneer and converger); cells join it over HTTP.
    Bbs(ComponentArgs),
    /// Run only a cell (rep and executor), reporting to the BBS given by --bbs-url.
    Cell(ComponentArgs),
    /// Run only the HTTP router and route emitter, following the BBS given by --bbs-url.
    Router(ComponentArgs),
    /// Run a program that belongs inside an app container: the buildpack builder or launcher.
    Lifecycle {
        #[command(subcommand)]
        command: ingot_lifecycle::LifecycleCommand,
    },
    /// Build and list stacks: the root file systems app containers run on.
    Stack {
        #[command(subcommand)]
        command: stack::StackCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Args)]
struct ComponentArgs {
    /// TOML config file; flags and environment variables override it.
    #[arg(long, env = "INGOT_CONFIG")]
    config: Option<PathBuf>,
    /// Where Ingot keeps its databases and keys.
    #[arg(long, env = "INGOT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address the Cloud Controller API listens on (port 0 picks a free port).
    #[arg(long, env = "INGOT_API_ADDR")]
    api_addr: Option<std::net::SocketAddr>,
    /// Address the UAA listens on (port 0 picks a free port).
    #[arg(long, env = "INGOT_UAA_ADDR")]
    uaa_addr: Option<std::net::SocketAddr>,
    /// External URL of the API, when clients reach it by another name than the listen address.
    #[arg(long, env = "INGOT_API_URL")]
    api_url: Option<String>,
    /// External URL of the UAA (for `ingot cc`: the UAA to use).
    #[arg(long, env = "INGOT_UAA_URL")]
    uaa_url: Option<String>,
    /// Address the BBS API listens on (port 0 picks a free port).
    #[arg(long, env = "INGOT_BBS_ADDR")]
    bbs_addr: Option<std::net::SocketAddr>,
    /// External URL of the BBS (for `ingot cell`: the BBS to report to).
    #[arg(long, env = "INGOT_BBS_URL")]
    bbs_url: Option<String>,
    /// Address the rep API listens on, for `ingot cell` (port 0 picks a free port).
    #[arg(long, env = "INGOT_REP_ADDR")]
    rep_addr: Option<std::net::SocketAddr>,
    /// External URL of this cell's rep, when the BBS reaches it by another name.
    #[arg(long, env = "INGOT_REP_URL")]
    rep_url: Option<String>,
    /// Address the HTTP router listens on (port 0 picks a free port).
    #[arg(long, env = "INGOT_ROUTER_ADDR")]
    router_addr: Option<std::net::SocketAddr>,
    /// Address the router also serves HTTPS on; off when unset.
    #[arg(long, env = "INGOT_ROUTER_TLS_ADDR")]
    router_tls_addr: Option<std::net::SocketAddr>,
    /// Address log-cache's HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "INGOT_LOG_CACHE_ADDR")]
    log_cache_addr: Option<std::net::SocketAddr>,
    /// External URL of log-cache (for `ingot router`: where log-cache.<system domain> leads).
    #[arg(long, env = "INGOT_LOG_CACHE_URL")]
    log_cache_url: Option<String>,
    /// What `ingot cell` and `ingot router` present to send envelopes to the log-cache at
    /// --log-cache-url; `ingot cc` generates one (<data dir>/log-ingress-secret) when unset.
    #[arg(long, env = "INGOT_LOG_INGRESS_SECRET", hide_env_values = true)]
    log_ingress_secret: Option<String>,
    /// Garden backend for the cell: auto (containers when root with an OCI runtime, else
    /// plain processes), linux or process.
    #[arg(long, env = "INGOT_GARDEN_BACKEND")]
    garden_backend: Option<ingot::config::GardenBackend>,
    /// UAA client `ingot cc` uses for user lookups (needs scim.read).
    #[arg(long, env = "INGOT_UAA_CLIENT_ID")]
    uaa_client_id: Option<String>,
    /// Its secret; by default `ingot cc` reads the admin client's from the data dir.
    #[arg(long, env = "INGOT_UAA_CLIENT_SECRET", hide_env_values = true)]
    uaa_client_secret: Option<String>,
}

impl ComponentArgs {
    fn load(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let overrides = Overrides {
            data_dir: self.data_dir,
            api_addr: self.api_addr,
            uaa_addr: self.uaa_addr,
            api_url: self.api_url,
            uaa_url: self.uaa_url,
            uaa_client_id: self.uaa_client_id,
            uaa_client_secret: self.uaa_client_secret,
            bbs_addr: self.bbs_addr,
            bbs_url: self.bbs_url,
            rep_addr: self.rep_addr,
            rep_url: self.rep_url,
            router_addr: self.router_addr,
            router_tls_addr: self.router_tls_addr,
            log_cache_addr: self.log_cache_addr,
            garden_backend: self.garden_backend,
            log_cache_url: self.log_cache_url,
            log_ingress_secret: self.log_ingress_secret,
        };
        Config::resolve(file, overrides, &ingot::config::ProcessEnv)
    }
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INGOT_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    use ingot::up::Role;
    let (args, role) = match cli.command {
        Command::Version => {
            println!("ingot {}", env!("CARGO_PKG_VERSION"));
            return Ok(std::process::ExitCode::SUCCESS);
        }
        Command::Lifecycle { command } => return Ok(ingot_lifecycle::run(command)),
        Command::Stack { command } => {
            runtime.block_on(stack::run(command))?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        Command::Up(args) => (args, Role::All),
        Command::Uaa(args) => (args, Role::Uaa),
        Command::Cc(args) => (args, Role::CloudController),
        Command::Bbs(args) => (args, Role::Bbs),
        Command::Cell(args) => (args, Role::Cell),
        Command::Router(args) => (args, Role::Router),
    };
    runtime.block_on(ingot::up::run(args.load()?, role))?;
    Ok(std::process::ExitCode::SUCCESS)
}
