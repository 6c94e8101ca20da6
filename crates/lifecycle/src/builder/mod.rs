//! The builder: detect, supply, finalize (or compile) and release with buildpacks, then pack
//! the droplet and the build artifacts cache.

use std::path::{Path, PathBuf};

use buildpack::{Buildpack, Scripts};
use cache::BuildCache;
use droplet::DropletContents;

use crate::paths;
use crate::staging_info::StagingInfo;

mod archive;
mod buildpack;
mod cache;
mod compile;
mod detect;
mod droplet;
mod error;
mod release;
mod result;

pub use error::BuilderError;
pub use result::{BuildpackMetadata, LifecycleMetadata, StagingResult};

/// Arguments of `ingot lifecycle builder`, named as Cloud Foundry's builder names them.
#[derive(clap::Args, Debug, Clone)]
pub struct BuilderArgs {
    /// The app's source; buildpacks stage it in place.
    #[arg(long, default_value = "/tmp/app")]
    pub build_dir: PathBuf,
    /// Holds one directory per buildpack, named by the hex md5 of its key.
    #[arg(long, default_value = "/tmp/buildpacks")]
    pub buildpacks_dir: PathBuf,
    /// Buildpack keys, in detection (or supply) order.
    #[arg(long, value_delimiter = ',')]
    pub buildpack_order: Vec<String>,
    /// Use every listed buildpack in order instead of detecting one.
    #[arg(long)]
    pub skip_detect: bool,
    /// Where to write the droplet (a gzipped tar).
    #[arg(long, default_value = "/tmp/droplet")]
    pub output_droplet: PathBuf,
    /// Where to write the staging result (JSON).
    #[arg(long, default_value = "/tmp/result.json")]
    pub output_metadata: PathBuf,
    /// The build artifacts cache left by the previous staging, already unpacked.
    #[arg(long, default_value = "/tmp/cache")]
    pub build_artifacts_cache_dir: PathBuf,
    /// Where to write the build artifacts cache for the next staging (a gzipped tar).
    #[arg(long, default_value = "/tmp/output-cache")]
    pub output_build_artifacts_cache: PathBuf,
    /// The stack buildpacks stage for (`CF_STACK`).
    #[arg(long, default_value = "cflinuxfs4")]
    pub stack: String,
}

/// Stages the app and writes the droplet, the output cache and the staging result.
pub fn run(args: &BuilderArgs) -> Result<StagingResult, BuilderError> {
    if args.buildpack_order.is_empty() {
        return Err(BuilderError::Staging(
            "no buildpacks given (--buildpack-order)".into(),
        ));
    }
    let build_dir = resolve(&args.build_dir)?;
    let buildpacks_dir = resolve(&args.buildpacks_dir)?;
    let available = args
        .buildpack_order
        .iter()
        .map(|key| Buildpack::locate(&buildpacks_dir, key))
        .collect::<Result<Vec<_>, _>>()?;
    let scripts = Scripts { stack: &args.stack };

    // With detection exactly one buildpack stages the app; without, all of them, in order.
    let (used, detect_output) = if args.skip_detect {
        (available, None)
    } else {
        let detected = detect::detect(&scripts, &available, &build_dir)?;
        (vec![detected.buildpack.clone()], Some(detected.output))
    };
    let (last, supplying) = used.split_last().expect("at least one buildpack");

    let cache = BuildCache::prepare(
        &resolve(&args.build_artifacts_cache_dir)?,
        supplying.iter().map(|bp| bp.key.as_str()),
    )
    .map_err(BuilderError::io("preparing the build artifacts cache"))?;
    let output_droplet = resolve(&args.output_droplet)?;
    let contents = DropletContents::create(&output_droplet, used.len())
        .map_err(BuilderError::io("setting up the droplet contents"))?;

    compile::compile(&scripts, supplying, last, &build_dir, &contents, &cache)?;
    let process_types = release::process_types(&scripts, last, &build_dir)?;

    let metadata = used
        .iter()
        .enumerate()
        .map(|(i, bp)| {
            let deps = contents.deps_dir().join(contents.deps_index(i));
            let mut metadata = BuildpackMetadata::read(&bp.key, &deps);
            if metadata.name.is_empty() {
                metadata.name = detect_output.clone().unwrap_or_default();
            }
            metadata
        })
        .collect();
    let result = StagingResult::new(metadata, process_types);
    if result.web_command().is_empty() {
        eprintln!("No start command specified by buildpack or via Procfile.");
        eprintln!("App will not start unless a command is provided at runtime.");
    }

    let info = StagingInfo {
        detected_buildpack: result.lifecycle_metadata.detected_buildpack.clone(),
        start_command: result.web_command().to_owned(),
    };
    contents
        .pack(&build_dir, &info, &output_droplet)
        .map_err(BuilderError::io("writing the droplet"))?;
    cache
        .pack(&resolve(&args.output_build_artifacts_cache)?)
        .map_err(BuilderError::io("writing the build artifacts cache"))?;
    write_result(&resolve(&args.output_metadata)?, &result)
        .map_err(BuilderError::io("writing the staging result"))?;
    Ok(result)
}

fn resolve(path: &Path) -> Result<PathBuf, BuilderError> {
    paths::absolute(path)
        .map_err(|err| BuilderError::Staging(format!("resolving {}: {err}", path.display())))
}

fn write_result(path: &Path, result: &StagingResult) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_vec(result)?)
}
