//! Which Garden the local cell runs containers on, and what its stack is called.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ingot_garden::linux::{NetworkConfig, StackRootfs, unavailable_reason};
use ingot_garden::{Garden, LinuxConfig, LinuxGarden, ProcessConfig, ProcessGarden};
use ingot_stack::StackChoice;

use crate::config::{Config, DEFAULT_STACK, GardenBackend};

/// The stack that answers to `cflinuxfs4`, described as it really is for `cf stacks`.
pub fn stack_description(data_dir: &Path, containers: bool) -> String {
    let choice = ingot_stack::default_stack(data_dir);
    match (&choice, containers) {
        (_, false) => "Stands in for cflinuxfs4: apps run as plain processes on the cell's own \
                       file system (no containers)"
            .into(),
        (StackChoice::Host, true) => format!(
            "Stands in for cflinuxfs4: {}, in a container",
            choice.description()
        ),
        (StackChoice::Built(_), true) => choice.description().to_owned(),
    }
}

/// Whether the cell will run containers: what `garden_backend` asks for, with `auto`
/// deciding by whether this host can.
pub fn uses_containers(config: &Config) -> bool {
    let garden = &config.cell.garden;
    match garden.backend {
        GardenBackend::Linux => true,
        GardenBackend::Process => false,
        GardenBackend::Auto => unavailable_reason(&garden.oci_runtime).is_none(),
    }
}

/// Opens the cell's Garden: the linux backend when containers are used, else the process
/// backend with a warning that says what isolation is missing.
pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn Garden>> {
    let settings = &config.cell.garden;
    if uses_containers(config) {
        let choice = ingot_stack::default_stack(&config.data_dir);
        let default = match &choice {
            StackChoice::Host => StackRootfs::Host,
            StackChoice::Built(stack) => StackRootfs::Directory(stack.rootfs.clone()),
        };
        let mut stacks = BTreeMap::from([
            (DEFAULT_STACK.to_owned(), default),
            (ingot_stack::HOST_NAME.to_owned(), StackRootfs::Host),
        ]);
        for built in ingot_stack::list(&config.data_dir) {
            stacks.insert(built.name.clone(), StackRootfs::Directory(built.rootfs));
        }
        let linux = LinuxConfig {
            runtime: settings.oci_runtime.clone(),
            stacks,
            network: NetworkConfig {
                bridge: settings.bridge.clone(),
                subnet: settings.subnet,
            },
            max_containers: config.cell.max_containers,
            ..LinuxConfig::new(
                config.data_dir.join("containers"),
                config.data_dir.join("garden-linux"),
            )
        };
        tracing::info!(
            runtime = %settings.oci_runtime.display(),
            stack = choice.name(),
            bridge = %settings.bridge,
            subnet = %settings.subnet,
            "the cell runs apps in Linux containers"
        );
        let garden = LinuxGarden::open(linux)
            .await
            .context("starting Garden's linux backend")?;
        return Ok(Arc::new(garden));
    }
    let why = match settings.backend {
        GardenBackend::Process => "garden_backend is process".to_owned(),
        _ => unavailable_reason(&settings.oci_runtime).unwrap_or_default(),
    };
    let depot = config.data_dir.join("garden");
    tracing::warn!(
        depot = %depot.display(),
        reason = %why,
        "the cell uses Garden's process backend: apps run as plain processes with no container \
         isolation (they see the host's processes and files, and run as this user), no memory, \
         disk or pid limits, no network namespace and no application security groups"
    );
    let garden = ProcessGarden::open(ProcessConfig {
        depot,
        max_containers: config.cell.max_containers,
        enforce_address_space: false,
    })
    .await
    .context("starting Garden")?;
    Ok(Arc::new(garden))
}
