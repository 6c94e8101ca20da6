//! `FakeGarden`: an in-memory Garden for other crates' unit tests (feature `test-util`).
//!
//! It records every call, and lets a test script what each executable does: its output,
//! its exit code, or that it runs until signalled. Nothing touches the host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::api::{Container, Garden, Process};
use crate::error::Error;
use crate::io::{ProcessIo, TarStream};
use crate::model::{
    Capacity, ContainerInfo, ContainerMetrics, ContainerState, ExitStatus, PortMapping, Signal,
};
use crate::spec::{ContainerSpec, DEFAULT_GRACE_TIME, ProcessSpec, Properties};

/// One recorded call, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    Create(ContainerSpec),
    Destroy(String),
    Run {
        handle: String,
        spec: ProcessSpec,
    },
    Attach {
        handle: String,
        process_id: String,
    },
    Stop {
        handle: String,
        kill: bool,
    },
    NetIn {
        handle: String,
        host_port: u16,
        container_port: u16,
    },
    StreamIn {
        handle: String,
        path: String,
        bytes: Vec<u8>,
    },
    StreamOut {
        handle: String,
        path: String,
    },
    SetProperty {
        handle: String,
        name: String,
        value: String,
    },
    SetGraceTime {
        handle: String,
        grace_time: Duration,
    },
    Signal {
        process_id: String,
        signal: Signal,
    },
}

/// What a scripted process does when run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessScript {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
    /// Keep running until signalled (then exit 143 on Terminate, 137 on Kill).
    pub until_signalled: bool,
}

impl ProcessScript {
    pub fn exits(code: i32) -> Self {
        Self {
            exit_code: code,
            ..Self::default()
        }
    }

    pub fn runs_until_signalled() -> Self {
        Self {
            until_signalled: true,
            ..Self::default()
        }
    }

    pub fn stdout(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdout = bytes.into();
        self
    }

    pub fn stderr(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stderr = bytes.into();
        self
    }
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<FakeCall>>,
    scripts: Mutex<BTreeMap<String, ProcessScript>>,
    failures: Mutex<BTreeMap<String, Error>>,
    containers: Mutex<BTreeMap<String, Arc<FakeContainer>>>,
    metrics: Mutex<BTreeMap<String, ContainerMetrics>>,
    events: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Shared {
    fn record(&self, call: FakeCall) {
        self.calls.lock().expect("poisoned").push(call);
    }

    /// The error injected for `method`, used once.
    fn injected(&self, method: &str) -> Result<(), Error> {
        match self.failures.lock().expect("poisoned").remove(method) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// An in-memory Garden. Clones share state.
#[derive(Clone, Default)]
pub struct FakeGarden {
    shared: Arc<Shared>,
}

impl FakeGarden {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.calls.lock().expect("poisoned").clone()
    }

    /// What running `path` does from now on. Unscripted executables exit 0 with no output.
    pub fn script(&self, path: &str, script: ProcessScript) {
        self.shared
            .scripts
            .lock()
            .expect("poisoned")
            .insert(path.to_string(), script);
    }

    /// Makes the next call of `method` (e.g. "create", "run", "destroy") fail with `error`.
    pub fn fail_next(&self, method: &str, error: Error) {
        self.shared
            .failures
            .lock()
            .expect("poisoned")
            .insert(method.to_string(), error);
    }

    /// The metrics a container reports.
    pub fn set_metrics(&self, handle: &str, metrics: ContainerMetrics) {
        self.shared
            .metrics
            .lock()
            .expect("poisoned")
            .insert(handle.to_string(), metrics);
    }

    /// The events a container reports in its info (e.g. `OUT_OF_MEMORY`).
    pub fn set_events(&self, handle: &str, events: &[&str]) {
        self.shared.events.lock().expect("poisoned").insert(
            handle.to_string(),
            events.iter().map(|e| e.to_string()).collect(),
        );
    }

    fn find(&self, handle: &str) -> Result<Arc<FakeContainer>, Error> {
        self.shared
            .containers
            .lock()
            .expect("poisoned")
            .get(handle)
            .cloned()
            .ok_or_else(|| Error::container_not_found(handle))
    }
}

#[async_trait]
impl Garden for FakeGarden {
    async fn ping(&self) -> Result<(), Error> {
        self.shared.injected("ping")
    }

    async fn capacity(&self) -> Result<Capacity, Error> {
        self.shared.injected("capacity")?;
        Ok(Capacity {
            memory_bytes: 8 << 30,
            disk_bytes: 64 << 30,
            max_containers: 256,
        })
    }

    async fn create(&self, spec: ContainerSpec) -> Result<Arc<dyn Container>, Error> {
        self.shared.record(FakeCall::Create(spec.clone()));
        self.shared.injected("create")?;
        spec.validate()?;
        let handle = if spec.handle.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            spec.handle.clone()
        };
        let mut containers = self.shared.containers.lock().expect("poisoned");
        if containers.contains_key(&handle) {
            return Err(Error::AlreadyExists { handle });
        }
        let mut mapped_ports = Vec::new();
        for port in &spec.net_in {
            map_port(&mut mapped_ports, port.host_port, port.container_port);
        }
        let container = Arc::new(FakeContainer {
            handle: handle.clone(),
            shared: self.shared.clone(),
            state: Mutex::new(FakeState {
                state: ContainerState::Active,
                properties: spec.properties.clone(),
                mapped_ports,
                grace_time: spec.grace_time.unwrap_or(DEFAULT_GRACE_TIME),
                files: BTreeMap::new(),
            }),
            processes: Mutex::new(BTreeMap::new()),
            destroyed: AtomicBool::new(false),
        });
        containers.insert(handle, container.clone());
        Ok(container)
    }

    async fn destroy(&self, handle: &str) -> Result<(), Error> {
        self.shared.record(FakeCall::Destroy(handle.to_string()));
        self.shared.injected("destroy")?;
        let container = self
            .shared
            .containers
            .lock()
            .expect("poisoned")
            .remove(handle)
            .ok_or_else(|| Error::container_not_found(handle))?;
        container.destroyed.store(true, Ordering::SeqCst);
        container.end_all(Signal::Kill);
        Ok(())
    }

    async fn containers(&self, filter: &Properties) -> Result<Vec<Arc<dyn Container>>, Error> {
        self.shared.injected("containers")?;
        let all: Vec<_> = self
            .shared
            .containers
            .lock()
            .expect("poisoned")
            .values()
            .cloned()
            .collect();
        Ok(all
            .into_iter()
            .filter(|c| {
                let state = c.state.lock().expect("poisoned");
                filter
                    .iter()
                    .all(|(k, v)| state.properties.get(k) == Some(v))
            })
            .map(|c| c as Arc<dyn Container>)
            .collect())
    }

    async fn lookup(&self, handle: &str) -> Result<Arc<dyn Container>, Error> {
        self.shared.injected("lookup")?;
        Ok(self.find(handle)?)
    }
}

/// Records a port mapping; host port 0 picks the next port from 61000.
fn map_port(mapped: &mut Vec<PortMapping>, host_port: u16, container_port: u16) -> PortMapping {
    let host_port = if host_port == 0 {
        61000 + mapped.len() as u16
    } else {
        host_port
    };
    let mapping = PortMapping {
        host_port,
        container_port,
    };
    mapped.push(mapping);
    mapping
}

struct FakeState {
    state: ContainerState,
    properties: Properties,
    mapped_ports: Vec<PortMapping>,
    grace_time: Duration,
    /// Raw tar bytes streamed in, by path; streamed out again unchanged.
    files: BTreeMap<String, Vec<u8>>,
}

/// A container of [`FakeGarden`].
pub struct FakeContainer {
    handle: String,
    shared: Arc<Shared>,
    state: Mutex<FakeState>,
    processes: Mutex<BTreeMap<String, Arc<FakeProcess>>>,
    destroyed: AtomicBool,
}

impl FakeContainer {
    fn ensure_present(&self) -> Result<(), Error> {
        if self.destroyed.load(Ordering::SeqCst) {
            Err(Error::container_not_found(&self.handle))
        } else {
            Ok(())
        }
    }

    fn end_all(&self, signal: Signal) {
        for process in self.processes.lock().expect("poisoned").values() {
            process.end(signal);
        }
    }

    /// The grace time set on this container.
    pub fn grace_time(&self) -> Duration {
        self.state.lock().expect("poisoned").grace_time
    }
}

#[async_trait]
impl Container for FakeContainer {
    fn handle(&self) -> &str {
        &self.handle
    }

    async fn info(&self) -> Result<ContainerInfo, Error> {
        self.ensure_present()?;
        let state = self.state.lock().expect("poisoned");
        Ok(ContainerInfo {
            state: state.state,
            host_ip: "127.0.0.1".into(),
            container_ip: "127.0.0.1".into(),
            container_path: format!("/fake/{}", self.handle),
            process_ids: self
                .processes
                .lock()
                .expect("poisoned")
                .keys()
                .cloned()
                .collect(),
            properties: state.properties.clone(),
            mapped_ports: state.mapped_ports.clone(),
            events: self
                .shared
                .events
                .lock()
                .expect("poisoned")
                .get(&self.handle)
                .cloned()
                .unwrap_or_default(),
        })
    }

    async fn run(&self, spec: ProcessSpec, io: ProcessIo) -> Result<Arc<dyn Process>, Error> {
        self.shared.record(FakeCall::Run {
            handle: self.handle.clone(),
            spec: spec.clone(),
        });
        self.ensure_present()?;
        self.shared.injected("run")?;
        spec.validate()?;
        let script = self
            .shared
            .scripts
            .lock()
            .expect("poisoned")
            .get(&spec.path)
            .cloned()
            .unwrap_or_default();
        let id = spec
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut processes = self.processes.lock().expect("poisoned");
        if processes.contains_key(&id) {
            return Err(Error::invalid("id", format!("process {id} already exists")));
        }
        let (exit, _) = watch::channel(None);
        let process = Arc::new(FakeProcess {
            id: id.clone(),
            shared: self.shared.clone(),
            exit,
        });
        processes.insert(id, process.clone());
        let mut exited = process.exit.subscribe();
        tokio::spawn(async move {
            if let Some(tx) = io.stdout
                && !script.stdout.is_empty()
            {
                let _ = tx.send(script.stdout.clone()).await;
            }
            if let Some(tx) = io.stderr
                && !script.stderr.is_empty()
            {
                let _ = tx.send(script.stderr.clone()).await;
            }
            // The senders drop here, closing the streams; an until-signalled process keeps
            // them open until it ends, like a real one.
            if script.until_signalled {
                let _ = exited.wait_for(Option::is_some).await;
            }
        });
        if !script.until_signalled {
            process
                .exit
                .send_replace(Some(ExitStatus::Exited(script.exit_code)));
        }
        Ok(process)
    }

    async fn attach(&self, process_id: &str, _io: ProcessIo) -> Result<Arc<dyn Process>, Error> {
        self.shared.record(FakeCall::Attach {
            handle: self.handle.clone(),
            process_id: process_id.to_string(),
        });
        self.ensure_present()?;
        self.shared.injected("attach")?;
        let process = self
            .processes
            .lock()
            .expect("poisoned")
            .get(process_id)
            .cloned()
            .ok_or_else(|| Error::process_not_found(process_id))?;
        Ok(process)
    }

    async fn stop(&self, kill: bool) -> Result<(), Error> {
        self.shared.record(FakeCall::Stop {
            handle: self.handle.clone(),
            kill,
        });
        self.ensure_present()?;
        self.shared.injected("stop")?;
        self.end_all(if kill {
            Signal::Kill
        } else {
            Signal::Terminate
        });
        self.state.lock().expect("poisoned").state = ContainerState::Stopped;
        Ok(())
    }

    async fn net_in(&self, host_port: u16, container_port: u16) -> Result<PortMapping, Error> {
        self.shared.record(FakeCall::NetIn {
            handle: self.handle.clone(),
            host_port,
            container_port,
        });
        self.ensure_present()?;
        self.shared.injected("net_in")?;
        let mut state = self.state.lock().expect("poisoned");
        Ok(map_port(&mut state.mapped_ports, host_port, container_port))
    }

    async fn stream_in(&self, path: &str, mut tar: TarStream) -> Result<(), Error> {
        self.ensure_present()?;
        let mut bytes = Vec::new();
        tar.read_to_end(&mut bytes).await?;
        self.shared.record(FakeCall::StreamIn {
            handle: self.handle.clone(),
            path: path.to_string(),
            bytes: bytes.clone(),
        });
        self.shared.injected("stream_in")?;
        self.state
            .lock()
            .expect("poisoned")
            .files
            .insert(path.to_string(), bytes);
        Ok(())
    }

    async fn stream_out(&self, path: &str) -> Result<TarStream, Error> {
        self.shared.record(FakeCall::StreamOut {
            handle: self.handle.clone(),
            path: path.to_string(),
        });
        self.ensure_present()?;
        self.shared.injected("stream_out")?;
        let bytes = self
            .state
            .lock()
            .expect("poisoned")
            .files
            .get(path)
            .cloned()
            .ok_or_else(|| Error::Io {
                message: format!("{path}: no such file"),
            })?;
        Ok(Box::new(std::io::Cursor::new(bytes)))
    }

    async fn properties(&self) -> Result<Properties, Error> {
        self.ensure_present()?;
        Ok(self.state.lock().expect("poisoned").properties.clone())
    }

    async fn property(&self, name: &str) -> Result<Option<String>, Error> {
        self.ensure_present()?;
        Ok(self
            .state
            .lock()
            .expect("poisoned")
            .properties
            .get(name)
            .cloned())
    }

    async fn set_property(&self, name: &str, value: &str) -> Result<(), Error> {
        self.shared.record(FakeCall::SetProperty {
            handle: self.handle.clone(),
            name: name.to_string(),
            value: value.to_string(),
        });
        self.ensure_present()?;
        self.state
            .lock()
            .expect("poisoned")
            .properties
            .insert(name.to_string(), value.to_string());
        Ok(())
    }

    async fn remove_property(&self, name: &str) -> Result<(), Error> {
        self.ensure_present()?;
        self.state.lock().expect("poisoned").properties.remove(name);
        Ok(())
    }

    async fn metrics(&self) -> Result<ContainerMetrics, Error> {
        self.ensure_present()?;
        self.shared.injected("metrics")?;
        let metrics = self.shared.metrics.lock().expect("poisoned");
        Ok(metrics.get(&self.handle).copied().unwrap_or_default())
    }

    async fn set_grace_time(&self, grace_time: Duration) -> Result<(), Error> {
        self.shared.record(FakeCall::SetGraceTime {
            handle: self.handle.clone(),
            grace_time,
        });
        self.ensure_present()?;
        self.state.lock().expect("poisoned").grace_time = grace_time;
        Ok(())
    }
}

/// A process of [`FakeGarden`].
pub struct FakeProcess {
    id: String,
    shared: Arc<Shared>,
    exit: watch::Sender<Option<ExitStatus>>,
}

impl FakeProcess {
    fn end(&self, signal: Signal) {
        let code = match signal {
            Signal::Terminate => 143,
            Signal::Kill => 137,
        };
        self.exit.send_if_modified(|status| {
            if status.is_none() {
                *status = Some(ExitStatus::Exited(code));
                true
            } else {
                false
            }
        });
    }
}

#[async_trait]
impl Process for FakeProcess {
    fn id(&self) -> &str {
        &self.id
    }

    async fn wait(&self) -> Result<ExitStatus, Error> {
        let mut exit = self.exit.subscribe();
        let status = exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Error::Unrecoverable {
                message: "fake process dropped".into(),
            })?;
        Ok(status.unwrap_or(ExitStatus::Unknown))
    }

    async fn signal(&self, signal: Signal) -> Result<(), Error> {
        self.shared.record(FakeCall::Signal {
            process_id: self.id.clone(),
            signal,
        });
        self.end(signal);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::collect;

    #[tokio::test]
    async fn scripted_processes_produce_output_and_exit_codes() {
        let garden = FakeGarden::new();
        garden.script(
            "/bin/app",
            ProcessScript::exits(3).stdout("hi").stderr("oops"),
        );
        let container = garden.create(ContainerSpec::default()).await.unwrap();
        let (io, mut out) = ProcessIo::capture();
        let spec = ProcessSpec {
            path: "/bin/app".into(),
            ..ProcessSpec::default()
        };
        let process = container.run(spec.clone(), io).await.unwrap();
        assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(3));
        assert_eq!(collect(&mut out.stdout).await, b"hi");
        assert_eq!(collect(&mut out.stderr).await, b"oops");
        assert!(garden.calls().contains(&FakeCall::Run {
            handle: container.handle().to_string(),
            spec
        }));
    }

    #[tokio::test]
    async fn until_signalled_processes_end_on_stop() {
        let garden = FakeGarden::new();
        garden.script("server", ProcessScript::runs_until_signalled());
        let container = garden.create(ContainerSpec::default()).await.unwrap();
        let spec = ProcessSpec {
            path: "server".into(),
            ..ProcessSpec::default()
        };
        let process = container.run(spec, ProcessIo::default()).await.unwrap();
        container.stop(false).await.unwrap();
        assert_eq!(process.wait().await.unwrap(), ExitStatus::Exited(143));
        assert_eq!(
            container.info().await.unwrap().state,
            ContainerState::Stopped
        );
    }

    #[tokio::test]
    async fn injected_failures_and_missing_handles() {
        let garden = FakeGarden::new();
        garden.fail_next(
            "create",
            Error::ServiceUnavailable {
                message: "full".into(),
            },
        );
        assert!(matches!(
            garden.create(ContainerSpec::default()).await,
            Err(Error::ServiceUnavailable { .. })
        ));
        garden.create(ContainerSpec::default()).await.unwrap();
        assert_eq!(
            garden.destroy("nope").await.unwrap_err(),
            Error::container_not_found("nope")
        );
    }

    #[tokio::test]
    async fn properties_filter_containers() {
        let garden = FakeGarden::new();
        let spec = |owner: &str| ContainerSpec {
            properties: Properties::from([("owner".into(), owner.into())]),
            ..ContainerSpec::default()
        };
        garden.create(spec("a")).await.unwrap();
        garden.create(spec("b")).await.unwrap();
        let filter = Properties::from([("owner".into(), "b".into())]);
        assert_eq!(garden.containers(&filter).await.unwrap().len(), 1);
        assert_eq!(
            garden.containers(&Properties::new()).await.unwrap().len(),
            2
        );
    }

    #[tokio::test]
    async fn spec_net_in_maps_ports_like_net_in() {
        let garden = FakeGarden::new();
        let spec = ContainerSpec {
            net_in: vec![
                PortMapping {
                    host_port: 0,
                    container_port: 8080,
                },
                PortMapping {
                    host_port: 7000,
                    container_port: 2222,
                },
            ],
            ..ContainerSpec::default()
        };
        let container = garden.create(spec).await.unwrap();
        let next = container.net_in(0, 9090).await.unwrap();
        assert_eq!(
            container.info().await.unwrap().mapped_ports,
            vec![
                PortMapping {
                    host_port: 61000,
                    container_port: 8080,
                },
                PortMapping {
                    host_port: 7000,
                    container_port: 2222,
                },
                next,
            ]
        );
        assert_eq!(next.host_port, 61002);
    }
}
