//! One container of the linux backend, and the `Container` trait for it.
//!
//! Processes start with the runtime's `exec`, which stays our child until the process
//! exits and then exits with its status; the process itself, a session leader in the
//! container, is what signals go to. Its output goes to files, as in the process backend,
//! so both survive a restart of Ingot.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Shared;
use super::bundle::{self, ProcessPlan, User};
use super::cgroup::Cgroup;
use super::network::Attachment;
use super::rootfs::Overlay;
use crate::api::{Container, Process};
use crate::error::Error;
use crate::io::{ProcessIo, TarStream};
use crate::model::{ContainerInfo, ContainerMetrics, ContainerState, OUT_OF_MEMORY, PortMapping};
use crate::process::child::{self, ProcessRecord};
use crate::process::container::{connect, feed_stdin, now_ms};
use crate::process::depot::{self, Layout, Meta, ProcessLayout};
use crate::process::group;
use crate::process::output::From;
use crate::process::procfs::{self, Group};
use crate::process::properties::PropertyStore;
use crate::spec::{NetOutRule, ProcessSpec, Properties};

/// How long the runtime may take to start a process before `run` gives up on it.
const EXEC_START_TIMEOUT: Duration = Duration::from_secs(30);
const PID_FILE_POLL: Duration = Duration::from_millis(2);

/// What the linux backend keeps about a container across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LinuxMeta {
    #[serde(flatten)]
    pub base: Meta,
    pub network: Attachment,
    pub net_out: Vec<NetOutRule>,
    /// Events recorded by Garden itself (the disk watcher); OOM kills are read from the
    /// cgroup.
    #[serde(default)]
    pub events: Vec<String>,
}

pub(crate) struct LinuxContainer {
    pub handle: String,
    pub ip: std::net::Ipv4Addr,
    pub layout: Layout,
    shared: Arc<Shared>,
    meta: tokio::sync::Mutex<LinuxMeta>,
    pub properties: PropertyStore,
    processes: Mutex<BTreeMap<String, Arc<ProcessRecord>>>,
    destroyed: AtomicBool,
    /// The container's init, as the host sees it: pid and start time.
    init: Option<(i32, u64)>,
    cgroup: Option<Cgroup>,
    cpu_ns_reported: AtomicU64,
}

impl crate::registry::Registered for LinuxContainer {
    fn property_store(&self) -> &PropertyStore {
        &self.properties
    }
}

/// Paths of the linux backend's extra files in a container directory.
pub(crate) fn bundle_dir(layout: &Layout) -> std::path::PathBuf {
    layout.dir.join("bundle")
}

pub(crate) fn etc_dir(layout: &Layout) -> std::path::PathBuf {
    layout.dir.join("etc")
}

fn container_pid_file(layout: &ProcessLayout) -> std::path::PathBuf {
    layout.dir.join("container.pid")
}

fn process_spec_file(layout: &ProcessLayout) -> std::path::PathBuf {
    layout.dir.join("spec.json")
}

impl LinuxContainer {
    pub fn new(
        shared: Arc<Shared>,
        layout: Layout,
        meta: LinuxMeta,
        properties: Properties,
        processes: BTreeMap<String, Arc<ProcessRecord>>,
        init_pid: i32,
    ) -> Self {
        Self {
            handle: meta.base.handle.clone(),
            ip: meta.network.ip,
            properties: PropertyStore::new(layout.properties_file(), properties),
            layout,
            shared,
            meta: tokio::sync::Mutex::new(meta),
            processes: Mutex::new(processes),
            destroyed: AtomicBool::new(false),
            init: procfs::stat(init_pid).map(|s| (init_pid, s.start_time)),
            cgroup: Cgroup::of_pid(init_pid),
            cpu_ns_reported: AtomicU64::new(0),
        }
    }

    fn ensure_present(&self) -> Result<(), Error> {
        if self.destroyed.load(Ordering::SeqCst) {
            Err(Error::container_not_found(&self.handle))
        } else {
            Ok(())
        }
    }

    fn groups(&self) -> Vec<Group> {
        self.processes
            .lock()
            .expect("process map poisoned")
            .values()
            .map(|p| p.group)
            .collect()
    }

    pub async fn meta_snapshot(&self) -> LinuxMeta {
        self.meta.lock().await.clone()
    }

    async fn update_meta(&self, change: impl FnOnce(&mut LinuxMeta)) -> Result<(), Error> {
        let mut meta = self.meta.lock().await;
        change(&mut meta);
        depot::write_json(&self.layout.state_file(), &*meta).await
    }

    /// Kills every process for exceeding a limit Garden enforces itself, recording why.
    pub async fn kill_for(&self, event: &str) -> Result<(), Error> {
        self.update_meta(|m| {
            if !m.events.iter().any(|e| e == event) {
                m.events.push(event.to_string());
            }
        })
        .await?;
        self.stop(true).await
    }

    /// Stops everything, then takes the container apart and removes its directory.
    pub async fn destroy(&self) -> Result<(), Error> {
        self.destroyed.store(true, Ordering::SeqCst);
        let (grace_time, network) = {
            let meta = self.meta.lock().await;
            (meta.base.grace_time, meta.network.clone())
        };
        group::stop_groups(&self.groups(), grace_time, false).await?;
        self.kill_init().await;
        self.shared
            .teardown(&self.handle, &self.layout, Some(&network))
            .await
    }

    /// Kills the init, which as pid 1 of the container's namespace takes everything left in
    /// it along, and waits until it is gone: the runtime's `delete` then finds the container
    /// stopped, where killing it itself would cost a fixed wait (100 ms in runc).
    async fn kill_init(&self) {
        const KILL_WAIT: Duration = Duration::from_secs(5);
        let Some((pid, start_time)) = self.init else {
            return;
        };
        let is_ours =
            || procfs::stat(pid).is_some_and(|s| s.start_time == start_time && s.is_running());
        if !is_ours() {
            return;
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let deadline = tokio::time::Instant::now() + KILL_WAIT;
        while is_ours() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(PID_FILE_POLL).await;
        }
    }

    /// Where the container's own files are: its overlay.
    pub fn overlay(&self) -> Overlay {
        Overlay::new(&self.layout.dir)
    }

    fn plan(&self, meta: &LinuxMeta, spec: &ProcessSpec) -> Result<ProcessPlan, Error> {
        let mut env = meta.base.env.clone();
        env.extend(spec.env.iter().cloned());
        let mut args = vec![spec.path.clone()];
        args.extend(spec.args.iter().cloned());
        Ok(ProcessPlan {
            user: User::parse(&spec.user)?,
            args,
            env,
            cwd: spec.dir.clone(),
            open_files: spec.limits.open_files.or(meta.base.limits.open_files),
        })
    }

    /// Starts `plan` through the runtime with its streams on files (or `stdin` piped),
    /// and waits until the process exists in the container.
    async fn start(
        &self,
        plan: &ProcessPlan,
        layout: &ProcessLayout,
        has_stdin: bool,
    ) -> Result<(tokio::process::Child, Group), Error> {
        let prepare =
            |e: std::io::Error| Error::io(format!("preparing {}", layout.dir.display()), e);
        let stdout = std::fs::File::create(layout.stdout()).map_err(prepare)?;
        let mut child = self
            .exec(plan, layout, piped(has_stdin), stdout.into(), false)
            .await?;
        let pid_file = container_pid_file(layout);
        let deadline = tokio::time::Instant::now() + EXEC_START_TIMEOUT;
        loop {
            if let Ok(text) = tokio::fs::read_to_string(&pid_file).await
                && let Ok(pid) = text.trim().parse::<i32>()
            {
                let runtime_group = child.id().map_or(0, |id| id as i32);
                return Ok((child, group_of(pid, runtime_group).await));
            }
            if let Some(status) = child.try_wait().map_err(|e| Error::io("runtime exec", e))? {
                let message = std::fs::read_to_string(layout.stderr()).unwrap_or_default();
                let lower = message.to_lowercase();
                if lower.contains("not found") || lower.contains("no such file") {
                    return Err(Error::ExecutableNotFound {
                        path: plan.args[0].clone(),
                    });
                }
                return Err(Error::Io {
                    message: format!(
                        "the runtime could not start the process ({status}): {}",
                        message.trim()
                    ),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.start_kill();
                return Err(Error::Io {
                    message: "the runtime did not start the process in time".into(),
                });
            }
            tokio::time::sleep(PID_FILE_POLL).await;
        }
    }

    /// Writes `plan`'s process spec into `layout` and starts it with the runtime's `exec`,
    /// stderr to the record's file. The `exec` leads its own process group; `kill_on_drop`
    /// ties it to the returned child (a helper), otherwise it outlives Ingot (a process).
    async fn exec(
        &self,
        plan: &ProcessPlan,
        layout: &ProcessLayout,
        stdin: Stdio,
        stdout: Stdio,
        kill_on_drop: bool,
    ) -> Result<tokio::process::Child, Error> {
        let spec_file = process_spec_file(layout);
        depot::write_json(&spec_file, &bundle::process(plan)?).await?;
        let stderr = std::fs::File::create(layout.stderr())
            .map_err(|e| Error::io(layout.stderr().display(), e))?;
        self.shared
            .runtime
            .exec(&self.handle, &spec_file, &container_pid_file(layout))
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(kill_on_drop)
            .spawn()
            .map_err(|e| Error::io("starting the OCI runtime", e))
    }

    /// Runs a helper (e.g. tar for streaming) as vcap and returns the child; its stderr is
    /// kept in a file under `name`'s record directory.
    async fn helper(
        &self,
        name: &str,
        args: Vec<String>,
        piped_in: bool,
        piped_out: bool,
    ) -> Result<(tokio::process::Child, ProcessLayout), Error> {
        let layout = self
            .layout
            .dir
            .join("helpers")
            .join(format!("{name}-{}", uuid::Uuid::new_v4()));
        tokio::fs::create_dir_all(&layout)
            .await
            .map_err(|e| Error::io(layout.display(), e))?;
        let layout = ProcessLayout { dir: layout };
        let plan = ProcessPlan {
            user: User::Vcap,
            args,
            env: Vec::new(),
            cwd: Some("/".into()),
            open_files: None,
        };
        let child = self
            .exec(&plan, &layout, piped(piped_in), piped(piped_out), true)
            .await?;
        Ok((child, layout))
    }
}

fn piped(yes: bool) -> Stdio {
    if yes { Stdio::piped() } else { Stdio::null() }
}

/// The group signals reach the process `pid` by. runc makes it a session leader, crun puts
/// it in a group whose leader (crun's own helper) has already exited; either way it leaves
/// the group of the runtime's `exec` (`runtime_group`) just before it starts, which may be
/// after the pid file is written. So this waits for that, briefly.
async fn group_of(pid: i32, runtime_group: i32) -> Group {
    const SETTLE: Duration = Duration::from_secs(2);
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        match procfs::stat(pid) {
            // Gone already: nothing left to signal.
            None => {
                return Group {
                    pgid: pid,
                    start_time: 0,
                };
            }
            Some(stat) if stat.pgid != runtime_group || tokio::time::Instant::now() >= deadline => {
                return Group {
                    pgid: stat.pgid,
                    start_time: stat.start_time,
                };
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// Why a helper failed: its stderr, then its record is removed.
async fn helper_failure(layout: &ProcessLayout, what: &str) -> Error {
    let message = tokio::fs::read_to_string(layout.stderr())
        .await
        .unwrap_or_default();
    let _ = tokio::fs::remove_dir_all(&layout.dir).await;
    Error::Io {
        message: format!("{what}: {}", message.trim()),
    }
}

#[async_trait]
impl Container for LinuxContainer {
    fn handle(&self) -> &str {
        &self.handle
    }

    async fn info(&self) -> Result<ContainerInfo, Error> {
        self.ensure_present()?;
        let meta = self.meta.lock().await.clone();
        let mut events = meta.events.clone();
        let cgroup = self.cgroup.clone();
        let oom_kills =
            tokio::task::spawn_blocking(move || cgroup.map_or(0, |c| c.usage().oom_kills))
                .await
                .unwrap_or(0);
        if oom_kills > 0 {
            events.push(OUT_OF_MEMORY.to_string());
        }
        let ip = meta.network.ip.to_string();
        let process_ids: Vec<String> = self
            .processes
            .lock()
            .expect("process map poisoned")
            .keys()
            .cloned()
            .collect();
        Ok(ContainerInfo {
            state: meta.base.state,
            host_ip: ip.clone(),
            container_ip: ip,
            container_path: self.layout.dir.display().to_string(),
            process_ids,
            properties: self.properties.snapshot().await,
            mapped_ports: meta.base.mapped_ports,
            events,
        })
    }

    async fn run(&self, spec: ProcessSpec, io: ProcessIo) -> Result<Arc<dyn Process>, Error> {
        self.ensure_present()?;
        spec.validate()?;
        let id = spec
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let plan = {
            let meta = self.meta.lock().await;
            self.plan(&meta, &spec)?
        };
        let layout = self.layout.process(&id);
        let taken = || Error::invalid("id", format!("process {id} already exists"));
        if self
            .processes
            .lock()
            .expect("process map poisoned")
            .contains_key(&id)
        {
            return Err(taken());
        }
        if let Err(e) = tokio::fs::create_dir(&layout.dir).await {
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => taken(),
                _ => Error::io(layout.dir.display(), e),
            });
        }
        let (mut child, group) = match self.start(&plan, &layout, io.stdin.is_some()).await {
            Ok(started) => started,
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&layout.dir).await;
                return Err(e);
            }
        };
        let stdin = child.stdin.take();
        let process = child::watch_child(id.clone(), layout, child, group).await?;
        self.processes
            .lock()
            .expect("process map poisoned")
            .insert(id, process.clone());
        if let (Some(source), Some(stdin)) = (io.stdin, stdin) {
            feed_stdin(source, stdin);
        }
        connect(
            &process,
            ProcessIo {
                stdin: None,
                stdout: io.stdout,
                stderr: io.stderr,
            },
            From::Start,
        );
        self.update_meta(|m| m.base.state = ContainerState::Active)
            .await?;
        Ok(process)
    }

    async fn attach(&self, process_id: &str, io: ProcessIo) -> Result<Arc<dyn Process>, Error> {
        self.ensure_present()?;
        let process = self
            .processes
            .lock()
            .expect("process map poisoned")
            .get(process_id)
            .cloned()
            .ok_or_else(|| Error::process_not_found(process_id))?;
        connect(&process, io, From::End);
        Ok(process)
    }

    async fn stop(&self, kill: bool) -> Result<(), Error> {
        self.ensure_present()?;
        let grace_time = self.meta.lock().await.base.grace_time;
        group::stop_groups(&self.groups(), grace_time, kill).await?;
        self.update_meta(|m| m.base.state = ContainerState::Stopped)
            .await
    }

    /// The container has an address of its own, which the host reaches directly: the
    /// mapping is the container port itself, on the container's address (`info().host_ip`).
    async fn net_in(&self, _host_port: u16, container_port: u16) -> Result<PortMapping, Error> {
        self.ensure_present()?;
        let mapping = PortMapping {
            host_port: container_port,
            container_port,
        };
        self.update_meta(|m| m.base.mapped_ports.push(mapping))
            .await?;
        Ok(mapping)
    }

    /// Unpacks with tar inside the container, as vcap: the files belong to the app's user,
    /// and a path can never lead outside the container.
    async fn stream_in(&self, path: &str, mut tar: TarStream) -> Result<(), Error> {
        self.ensure_present()?;
        self.layout.host_path(path)?;
        let script = "mkdir -p \"$0\" && exec tar -x -f - -C \"$0\"";
        let (mut child, layout) = self
            .helper(
                "stream-in",
                vec!["/bin/sh".into(), "-c".into(), script.into(), path.into()],
                true,
                false,
            )
            .await?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let copied = tokio::io::copy(&mut tar, &mut stdin).await;
        drop(stdin);
        let status = child
            .wait()
            .await
            .map_err(|e| Error::io("streaming in", e))?;
        if status.success() && copied.is_ok() {
            let _ = tokio::fs::remove_dir_all(&layout.dir).await;
            return Ok(());
        }
        Err(helper_failure(&layout, &format!("streaming into {path}")).await)
    }

    async fn stream_out(&self, path: &str) -> Result<TarStream, Error> {
        self.ensure_present()?;
        self.layout.host_path(path)?;
        let (dir, name) = if path.ends_with('/') {
            (path.to_string(), ".".to_string())
        } else {
            let p = std::path::Path::new(path);
            (
                p.parent().map_or("/".into(), |d| d.display().to_string()),
                p.file_name()
                    .map_or(".".into(), |n| n.to_string_lossy().into_owned()),
            )
        };
        // tar reports a missing path only after writing an (empty) archive, so look first.
        let (mut test, layout) = self
            .helper(
                "stream-out-test",
                vec!["test".into(), "-e".into(), path.into()],
                false,
                false,
            )
            .await?;
        let found = test.wait().await.is_ok_and(|s| s.success());
        let _ = tokio::fs::remove_dir_all(&layout.dir).await;
        if !found {
            return Err(Error::Io {
                message: format!("streaming out {path}: no such file or directory"),
            });
        }
        let (mut child, layout) = self
            .helper(
                "stream-out",
                vec![
                    "tar".into(),
                    "-c".into(),
                    "-f".into(),
                    "-".into(),
                    "-C".into(),
                    dir,
                    name,
                ],
                false,
                true,
            )
            .await?;
        let stdout = child.stdout.take().expect("piped stdout");
        tokio::spawn(async move {
            let _ = child.wait().await;
            let _ = tokio::fs::remove_dir_all(&layout.dir).await;
        });
        Ok(Box::new(stdout))
    }

    async fn properties(&self) -> Result<Properties, Error> {
        self.ensure_present()?;
        Ok(self.properties.snapshot().await)
    }

    async fn property(&self, name: &str) -> Result<Option<String>, Error> {
        self.ensure_present()?;
        Ok(self.properties.get(name).await)
    }

    async fn set_property(&self, name: &str, value: &str) -> Result<(), Error> {
        self.ensure_present()?;
        self.properties.set(name, value).await
    }

    async fn remove_property(&self, name: &str) -> Result<(), Error> {
        self.ensure_present()?;
        self.properties.remove(name).await
    }

    /// Memory and CPU from the cgroup, disk from the writable layer.
    async fn metrics(&self) -> Result<ContainerMetrics, Error> {
        self.ensure_present()?;
        let cgroup = self.cgroup.clone();
        let overlay = self.overlay();
        let (usage, disk_bytes) = tokio::task::spawn_blocking(move || {
            (
                cgroup.map(|c| c.usage()).unwrap_or_default(),
                overlay.disk_usage(),
            )
        })
        .await
        .map_err(|e| Error::io("measuring container", e))?;
        let cpu_ns = self
            .cpu_ns_reported
            .fetch_max(usage.cpu_ns, Ordering::SeqCst)
            .max(usage.cpu_ns);
        let created_at_ms = self.meta.lock().await.base.created_at_ms;
        Ok(ContainerMetrics {
            memory_bytes: usage.memory_bytes,
            cpu_ns,
            disk_bytes,
            age: Duration::from_millis(now_ms().saturating_sub(created_at_ms)),
        })
    }

    async fn set_grace_time(&self, grace_time: Duration) -> Result<(), Error> {
        self.ensure_present()?;
        self.update_meta(|m| m.base.grace_time = grace_time).await
    }
}
