//! The linux backend: real containers through an OCI runtime (runc or crun).
//!
//! Each container is an OCI bundle in the depot whose root is an overlay (the stack
//! read-only below, a writable layer per container above), with its own pid, mount, ipc,
//! uts, cgroup and network namespaces. Its init is a small reaper; processes start with the
//! runtime's `exec` as the unprivileged vcap user (uid 2000), with no capabilities, no new
//! privileges and a seccomp filter. cgroups cap memory (no swap), weight CPU by memory and
//! limit pids; an OOM kill shows in the container's events. Disk is measured (the size of
//! the writable layer) and a container over its limit has its processes killed, with the
//! event `disk quota exceeded`: overlayfs on an ordinary file system has no quota to
//! enforce it with.
//!
//! Networking: a namespace per container on a veth pair to an Ingot bridge, an address
//! from a private subnet, NAT out, and outbound rules in nftables (see `firewall`). A few
//! networks are prepared ahead (`Config::prepared_networks`), so a create only adds the
//! firewall chain, and does that while the runtime starts the init.
//!
//! Restart safety: everything is recorded in the depot; on [`LinuxGarden::open`] running
//! containers are re-adopted (their processes, firewall chains and addresses), and anything
//! else of ours (dead containers, half-made ones, stray mounts, namespaces, runtime state)
//! is taken apart.
//!
//! The layout of a container directory extends the process backend's:
//!
//! ```text
//! <depot>/<handle>/
//!   state.json, properties.json, processes/<id>/   as in the process backend (+ spec.json)
//!   bundle/config.json   the OCI runtime spec
//!   upper/ work/         the overlay's writable layer
//!   rootfs/              the overlay mount: the container's root
//!   etc/                 hosts, hostname, resolv.conf (+ passwd, group on the host stack)
//! ```

mod bundle;
mod cgroup;
mod command;
mod container;
mod firewall;
mod network;
mod purge;
mod rootfs;
mod runtime;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::api::{Container, Garden};
use crate::error::Error;
use crate::model::{Capacity, ContainerState, DISK_QUOTA_EXCEEDED, PortMapping};
use crate::process::depot::{self, Layout, Meta};
use crate::registry::Registry;
use crate::spec::{ContainerSpec, DEFAULT_GRACE_TIME, Properties};
use container::{LinuxContainer, LinuxMeta};
use network::Attachment;
pub use network::{NetworkConfig, Subnet};
pub use purge::purge;
pub use rootfs::{StackRootfs, mounts_under};
use runtime::Runtime;

/// Settings of the linux backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// One directory per container.
    pub depot: PathBuf,
    /// The backend's own state: the runtime's state directory and the host stack skeleton.
    pub state_dir: PathBuf,
    /// The OCI runtime binary, e.g. `/usr/sbin/runc` or `/usr/bin/crun`.
    pub runtime: PathBuf,
    /// Stacks by name (what `preloaded:<name>` root file systems name).
    pub stacks: BTreeMap<String, StackRootfs>,
    /// The stack of a container whose spec names none.
    pub default_stack: String,
    pub network: NetworkConfig,
    /// The cgroup every container's cgroup is made under.
    pub cgroup_parent: String,
    pub max_containers: u64,
    /// How often the writable layers are measured against their disk limits.
    pub disk_check_interval: Duration,
    /// Network namespaces (with their veth pair and address) kept ready ahead of creates,
    /// so a create does not wait for one; 0 makes each as it is needed.
    pub prepared_networks: usize,
}

impl Config {
    /// Defaults: runc, the host stack as `cflinuxfs4`, bridge `ingot0` on 10.254.0.0/22.
    pub fn new(depot: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            depot: depot.into(),
            state_dir: state_dir.into(),
            runtime: PathBuf::from("runc"),
            stacks: BTreeMap::from([("cflinuxfs4".to_string(), StackRootfs::Host)]),
            default_stack: "cflinuxfs4".into(),
            network: NetworkConfig::default(),
            cgroup_parent: "ingot".into(),
            max_containers: 256,
            disk_check_interval: Duration::from_secs(5),
            prepared_networks: 4,
        }
    }
}

/// Why the linux backend cannot run here, if it cannot: it needs root, the runtime, iproute2,
/// nftables and overlayfs.
pub fn unavailable_reason(runtime: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("it needs root".into());
    }
    let found = |name: &Path| {
        if name.is_absolute() {
            name.exists()
        } else {
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .iter()
            .any(|dir| Path::new(dir).join(name).exists())
        }
    };
    for (binary, package) in [
        (runtime, "the OCI runtime"),
        (Path::new("ip"), "ip (iproute2)"),
        (Path::new("nft"), "nft (nftables)"),
    ] {
        if !found(binary) {
            return Some(format!("{package} ({}) is not installed", binary.display()));
        }
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems
        .lines()
        .any(|l| l.trim_end().ends_with("overlay"))
    {
        return Some("the kernel has no overlayfs".into());
    }
    None
}

/// What every container of the backend shares.
pub(crate) struct Shared {
    config: Config,
    runtime: Runtime,
    seccomp: bool,
    swap_accounting: bool,
    /// Addresses in use, prepared networks' included.
    addresses: Mutex<BTreeSet<Ipv4Addr>>,
    /// Stacks' lower layers, once prepared.
    layers: Mutex<BTreeMap<StackRootfs, Arc<rootfs::Layer>>>,
    /// Networks made ahead of time, lowest address first.
    prepared: Mutex<VecDeque<Attachment>>,
    refilling: AtomicBool,
}

impl Shared {
    fn host_skeleton(&self) -> PathBuf {
        self.config.state_dir.join("host-stack")
    }

    fn cgroups_path(&self, handle: &str) -> String {
        format!("/{}/{handle}", self.config.cgroup_parent.trim_matches('/'))
    }

    fn stack(&self, rootfs: &str) -> Result<StackRootfs, Error> {
        let name = match rootfs {
            "" => self.config.default_stack.as_str(),
            other => other.strip_prefix("preloaded:").unwrap_or(other),
        };
        self.config.stacks.get(name).cloned().ok_or_else(|| {
            Error::invalid(
                "rootfs",
                format!(
                    "unknown stack {name:?}; this cell has {}",
                    self.config
                        .stacks
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// The stack `rootfs` names, and its lower layer, prepared on first use (the host stack's
    /// skeleton is made then) and reused by every later container.
    async fn layer(&self, rootfs: &str) -> Result<(StackRootfs, Arc<rootfs::Layer>), Error> {
        let stack = self.stack(rootfs)?;
        if let Some(layer) = self.layers.lock().expect("layers lock").get(&stack) {
            return Ok((stack, layer.clone()));
        }
        let layer = {
            let (stack, skeleton) = (stack.clone(), self.host_skeleton());
            tokio::task::spawn_blocking(move || rootfs::lower_layer(&stack, &skeleton))
                .await
                .map_err(|e| Error::io("preparing the stack", e))??
        };
        let layer = Arc::new(layer);
        self.layers
            .lock()
            .expect("layers lock")
            .insert(stack.clone(), layer.clone());
        Ok((stack, layer))
    }

    fn release(&self, ip: Ipv4Addr) {
        self.addresses.lock().expect("address lock").remove(&ip);
    }

    /// The lowest free address, now in use.
    ///
    /// Errors: `ServiceUnavailable` when the subnet is full.
    fn allocate(&self) -> Result<Attachment, Error> {
        let mut addresses = self.addresses.lock().expect("address lock");
        let ip = network::allocate(&self.config.network.subnet, &addresses).ok_or_else(|| {
            Error::ServiceUnavailable {
                message: format!("no address left in {}", self.config.network.subnet),
            }
        })?;
        addresses.insert(ip);
        Ok(Attachment::new(&self.config.network, ip))
    }

    fn take_prepared(&self) -> Option<Attachment> {
        self.prepared.lock().expect("prepared lock").pop_front()
    }

    /// Makes a network (namespace, veth pair, address) for a container to come.
    async fn prepare(&self) -> Result<Attachment, Error> {
        let attachment = self.allocate()?;
        let made = async {
            network::plug(&self.config.network, &attachment).await?;
            network::configure(&self.config.network, &attachment).await
        }
        .await;
        if let Err(e) = made {
            let _ = network::detach(&attachment).await;
            self.release(attachment.ip);
            return Err(e);
        }
        Ok(attachment)
    }

    /// Tops the prepared networks up in the background (one refill at a time).
    fn refill(self: &Arc<Self>) {
        if self.config.prepared_networks == 0 || self.refilling.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            while shared.prepared.lock().expect("prepared lock").len()
                < shared.config.prepared_networks
            {
                match shared.prepare().await {
                    Ok(attachment) => {
                        let mut prepared = shared.prepared.lock().expect("prepared lock");
                        prepared.push_back(attachment);
                        prepared.make_contiguous().sort_by_key(|a| a.ip);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "preparing a container network");
                        break;
                    }
                }
            }
            shared.refilling.store(false, Ordering::SeqCst);
        });
    }

    /// Takes a container apart, whatever state it is in: runtime container (and with it the
    /// cgroup and every process), firewall chain, network, mounts, address, directory. Each
    /// step tolerates what is already gone; the first failure is returned after trying all.
    async fn teardown(
        &self,
        handle: &str,
        layout: &Layout,
        network: Option<&Attachment>,
    ) -> Result<(), Error> {
        let mut first_error = None;
        let mut note = |r: Result<(), Error>| {
            if let Err(e) = r {
                tracing::warn!(%handle, error = %e, "tearing down container");
                first_error.get_or_insert(e);
            }
        };
        note(self.runtime.delete(handle).await);
        if let Some(network) = network {
            let chain = firewall::remove_container_script(&self.config.network, network.ip);
            let (_, detached) = tokio::join!(
                // The chain may never have been added; that is not a failure.
                firewall::apply(&chain),
                network::detach(network)
            );
            note(detached);
            self.release(network.ip);
        }
        for mount in rootfs::mounts_under(&layout.dir).unwrap_or_default() {
            note(rootfs::unmount(&mount));
        }
        if let Err(e) = tokio::fs::remove_dir_all(&layout.dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            note(Err(Error::io(layout.dir.display(), e)));
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// Networks prepared for containers that will not come now go with the backend (a later
/// one would remove them as unclaimed anyway, but they need not wait for it).
impl Drop for Shared {
    fn drop(&mut self) {
        let prepared = std::mem::take(&mut *self.prepared.lock().expect("prepared lock"));
        for attachment in prepared {
            let _ = std::process::Command::new("ip")
                .args(["netns", "delete", &attachment.netns])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// The linux backend. Cheap to clone; clones share the same containers.
#[derive(Clone)]
pub struct LinuxGarden {
    shared: Arc<Shared>,
    containers: Registry<LinuxContainer>,
}

impl LinuxGarden {
    /// Prepares the host (bridge, firewall table), re-adopts running containers and takes
    /// apart everything else of ours it finds.
    ///
    /// Errors: `ServiceUnavailable` when the host cannot run it (see
    /// [`unavailable_reason`]), `Io` when the host cannot be prepared.
    pub async fn open(config: Config) -> Result<Self, Error> {
        if let Some(reason) = unavailable_reason(&config.runtime) {
            return Err(Error::ServiceUnavailable {
                message: format!("the linux backend cannot run: {reason}"),
            });
        }
        let runtime_root = config.state_dir.join("runtime");
        for dir in [&config.depot, &config.state_dir, &runtime_root] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(dir.display(), e))?;
        }
        let runtime = Runtime::new(config.runtime.clone(), runtime_root);
        let seccomp = runtime.supports_seccomp().await;
        network::ensure_bridge(&config.network).await?;
        firewall::apply(&firewall::base_script(&config.network)).await?;
        let shared = Arc::new(Shared {
            swap_accounting: Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                .exists()
                || Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            config,
            runtime,
            seccomp,
            addresses: Mutex::new(BTreeSet::new()),
            layers: Mutex::new(BTreeMap::new()),
            prepared: Mutex::new(VecDeque::new()),
            refilling: AtomicBool::new(false),
        });
        let containers = readopt_all(&shared).await?;
        let garden = Self {
            containers: Registry::new(containers, shared.config.max_containers),
            shared,
        };
        garden.watch_disk();
        garden.shared.refill();
        Ok(garden)
    }

    /// Measures writable layers against disk limits in the background, for as long as the
    /// backend lives, killing the processes of containers over theirs.
    fn watch_disk(&self) {
        let containers = self.containers.downgrade();
        let interval = self.shared.config.disk_check_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(containers) = containers.upgrade() else {
                    return;
                };
                let all: Vec<_> = containers
                    .lock()
                    .expect("container map poisoned")
                    .values()
                    .cloned()
                    .collect();
                drop(containers);
                for container in all {
                    let meta = container.meta_snapshot().await;
                    let Some(limit) = meta.base.limits.disk_bytes else {
                        continue;
                    };
                    if meta.base.state != ContainerState::Active
                        || meta.events.iter().any(|e| e == DISK_QUOTA_EXCEEDED)
                    {
                        continue;
                    }
                    let overlay = container.overlay();
                    let used = tokio::task::spawn_blocking(move || overlay.disk_usage())
                        .await
                        .unwrap_or(0);
                    if used > limit {
                        tracing::warn!(handle = %container.handle, used, limit, "container exceeded its disk limit; killing its processes");
                        if let Err(e) = container.kill_for(DISK_QUOTA_EXCEEDED).await {
                            tracing::warn!(handle = %container.handle, error = %e, "killing a container over its disk limit");
                        }
                    }
                }
            }
        });
    }

    /// Removes the bridge and the firewall table, for a host that stops running containers
    /// (and tests, which must leave nothing behind).
    ///
    /// Errors: `InvalidSpec` while containers remain, `Io`.
    pub async fn remove_network(&self) -> Result<(), Error> {
        if !self.containers.all().is_empty() {
            return Err(Error::invalid(
                "containers",
                "destroy every container before removing the network",
            ));
        }
        // A refill under way would add a network after the drain below.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.shared.refilling.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        loop {
            let next = self.shared.take_prepared();
            let Some(attachment) = next else { break };
            network::detach(&attachment).await?;
            self.shared.release(attachment.ip);
        }
        firewall::apply(&firewall::delete_table_script(&self.shared.config.network)).await?;
        network::delete_bridge(&self.shared.config.network).await
    }

    /// Builds everything of a new container, on a `prepared` network or one made here; on
    /// failure the caller tears it down.
    async fn build(
        &self,
        handle: &str,
        layout: &Layout,
        spec: ContainerSpec,
        network: Attachment,
        prepared: bool,
    ) -> Result<LinuxContainer, Error> {
        let shared = &self.shared;
        let (stack, layer) = shared.layer(&spec.rootfs).await?;
        let overlay = rootfs::Overlay::new(&layout.dir);
        overlay.mount(&layer.lower)?;
        tokio::fs::create_dir_all(layout.processes())
            .await
            .map_err(|e| Error::io(layout.processes().display(), e))?;
        let hostname: String = handle.chars().take(63).collect();
        let files = rootfs::container_files(
            &container::etc_dir(layout),
            &hostname,
            &network.ip.to_string(),
            &stack,
        )?;
        if !prepared {
            network::plug(&shared.config.network, &network).await?;
        }
        let oci = bundle::container(&bundle::ContainerPlan {
            hostname,
            rootfs: overlay.merged.clone(),
            stack_mounts: layer.shared_mounts.clone(),
            files,
            bind_mounts: spec.bind_mounts.clone(),
            netns: network.netns_path(),
            cgroups_path: shared.cgroups_path(handle),
            limits: spec.limits,
            seccomp: shared.seccomp,
            swap_accounting: shared.swap_accounting,
        })?;
        let bundle_dir = container::bundle_dir(layout);
        tokio::fs::create_dir_all(&bundle_dir)
            .await
            .map_err(|e| Error::io(bundle_dir.display(), e))?;
        depot::write_json(&bundle_dir.join("config.json"), &oci).await?;
        // Nothing in the container uses the network before its first process, which comes
        // after `create` returns: the address and the firewall chain are set up while the
        // runtime starts the init. Until the chain is in place the container's traffic
        // matches no chain and is dropped.
        let configure = async {
            if prepared {
                Ok(())
            } else {
                network::configure(&shared.config.network, &network).await
            }
        };
        let chain = firewall::add_container_script(
            &shared.config.network,
            network.ip,
            handle,
            &spec.net_out,
        );
        let (configured, guarded, started) = tokio::join!(
            configure,
            firewall::apply(&chain),
            shared.runtime.run_detached(handle, &bundle_dir)
        );
        configured?;
        guarded?;
        started?;
        let init_pid = shared
            .runtime
            .state(handle)
            .await
            .filter(runtime::State::is_running)
            .ok_or_else(|| Error::Io {
                message: format!("container {handle} did not start"),
            })?
            .pid;
        let mapped_ports = spec
            .net_in
            .iter()
            .map(|p| PortMapping {
                host_port: p.container_port,
                container_port: p.container_port,
            })
            .collect();
        let meta = LinuxMeta {
            base: Meta {
                handle: handle.to_string(),
                rootfs: spec.rootfs,
                env: spec.env,
                bind_mounts: spec.bind_mounts,
                limits: spec.limits,
                grace_time: spec.grace_time.unwrap_or(DEFAULT_GRACE_TIME),
                state: ContainerState::Active,
                mapped_ports,
                created_at_ms: crate::process::container::now_ms(),
            },
            network,
            net_out: spec.net_out,
            events: Vec::new(),
        };
        depot::write_json(&layout.properties_file(), &spec.properties).await?;
        depot::write_json(&layout.state_file(), &meta).await?;
        Ok(LinuxContainer::new(
            self.shared.clone(),
            layout.clone(),
            meta,
            spec.properties,
            BTreeMap::new(),
            init_pid,
        ))
    }
}

/// Re-adopts the running containers of the depot and takes apart everything else of ours.
async fn readopt_all(shared: &Arc<Shared>) -> Result<BTreeMap<String, Arc<LinuxContainer>>, Error> {
    let config = &shared.config;
    let mut adopted = BTreeMap::new();
    let mut entries = tokio::fs::read_dir(&config.depot)
        .await
        .map_err(|e| Error::io(config.depot.display(), e))?;
    while let Some(entry) = entries.next_entry().await? {
        let Some(handle) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let layout = Layout::new(&config.depot, &handle);
        match readopt(shared, &handle, &layout).await {
            Ok(container) => {
                adopted.insert(handle, Arc::new(container));
            }
            Err(reason) => {
                tracing::info!(%handle, %reason, "removing a container that cannot be re-adopted");
                let network: Option<Attachment> =
                    depot::read_json::<LinuxMeta>(&layout.state_file())
                        .await
                        .ok()
                        .map(|m| m.network);
                if let Err(e) = shared.teardown(&handle, &layout, network.as_ref()).await {
                    tracing::warn!(%handle, error = %e, "could not remove a leftover container");
                }
            }
        }
    }
    for id in shared.runtime.ids() {
        if !adopted.contains_key(&id) {
            tracing::info!(%id, "removing a runtime container with no depot record");
            let _ = shared.runtime.delete(&id).await;
        }
    }
    let claimed: BTreeSet<String> = adopted
        .values()
        .map(|c| Attachment::new(&config.network, c.ip).netns)
        .collect();
    for name in network::namespaces(&config.network) {
        if !claimed.contains(&name) {
            tracing::info!(netns = %name, "removing a network namespace no container claims");
            let _ = network::delete_namespace(&name).await;
        }
    }
    Ok(adopted)
}

/// Re-adopts one container whose init still runs, with its processes, address and firewall
/// chain; anything else is an error saying why it cannot be.
async fn readopt(
    shared: &Arc<Shared>,
    handle: &str,
    layout: &Layout,
) -> Result<LinuxContainer, String> {
    if !crate::spec::is_valid_handle(handle) {
        return Err("not a container directory".into());
    }
    let meta: LinuxMeta = depot::read_json(&layout.state_file())
        .await
        .map_err(|e| format!("no state: {e}"))?;
    let state = shared
        .runtime
        .state(handle)
        .await
        .filter(runtime::State::is_running)
        .ok_or("its init is not running")?;
    if rootfs::mounts_under(&layout.rootfs())
        .unwrap_or_default()
        .is_empty()
    {
        return Err("its root file system is not mounted".into());
    }
    firewall::apply(&firewall::add_container_script(
        &shared.config.network,
        meta.network.ip,
        handle,
        &meta.net_out,
    ))
    .await
    .map_err(|e| e.to_string())?;
    shared
        .addresses
        .lock()
        .expect("address lock")
        .insert(meta.network.ip);
    let properties: Properties = depot::read_json(&layout.properties_file())
        .await
        .unwrap_or_default();
    let mut processes = BTreeMap::new();
    if let Ok(mut entries) = tokio::fs::read_dir(layout.processes()).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if let Some(process) =
                crate::process::child::adopt(id.clone(), layout.process(&id)).await
            {
                processes.insert(id, process);
            }
        }
    }
    let _ = tokio::fs::remove_dir_all(layout.dir.join("helpers")).await;
    Ok(LinuxContainer::new(
        shared.clone(),
        layout.clone(),
        meta,
        properties,
        processes,
        state.pid,
    ))
}

#[async_trait]
impl Garden for LinuxGarden {
    async fn ping(&self) -> Result<(), Error> {
        match tokio::fs::metadata(&self.shared.config.depot).await {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(Error::ServiceUnavailable {
                message: format!("depot {} is missing", self.shared.config.depot.display()),
            }),
        }
    }

    async fn capacity(&self) -> Result<Capacity, Error> {
        crate::process::host_capacity(&self.shared.config.depot, self.shared.config.max_containers)
            .await
    }

    async fn create(&self, spec: ContainerSpec) -> Result<Arc<dyn Container>, Error> {
        spec.validate()?;
        self.shared.stack(&spec.rootfs)?;
        let handle = if spec.handle.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            spec.handle.clone()
        };
        self.containers.check_room(&handle)?;
        let layout = Layout::new(&self.shared.config.depot, &handle);
        if let Err(e) = tokio::fs::create_dir(&layout.dir).await {
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::AlreadyExists { handle },
                _ => Error::io(layout.dir.display(), e),
            });
        }
        let (network, prepared) = match self.shared.take_prepared() {
            Some(network) => (network, true),
            None => match self.shared.allocate() {
                Ok(network) => (network, false),
                Err(e) => {
                    let _ = tokio::fs::remove_dir_all(&layout.dir).await;
                    return Err(e);
                }
            },
        };
        let built = self
            .build(&handle, &layout, spec, network.clone(), prepared)
            .await;
        // Replace the network taken once this create is done, not competing with it.
        self.shared.refill();
        match built {
            Ok(container) => {
                let container = Arc::new(container);
                self.containers.insert(container.clone(), handle);
                Ok(container)
            }
            Err(e) => {
                let _ = self.shared.teardown(&handle, &layout, Some(&network)).await;
                Err(e)
            }
        }
    }

    async fn destroy(&self, handle: &str) -> Result<(), Error> {
        self.containers.remove(handle)?.destroy().await
    }

    async fn containers(&self, filter: &Properties) -> Result<Vec<Arc<dyn Container>>, Error> {
        Ok(self.containers.matching(filter).await)
    }

    async fn lookup(&self, handle: &str) -> Result<Arc<dyn Container>, Error> {
        Ok(self.containers.get(handle)?)
    }
}
