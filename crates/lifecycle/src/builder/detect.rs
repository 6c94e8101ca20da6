use std::path::Path;

use super::BuilderError;
use super::buildpack::{Buildpack, Scripts};

/// The buildpack whose `bin/detect` accepted the app, with what it printed (its name and
/// often its version).
pub(super) struct Detected<'a> {
    pub buildpack: &'a Buildpack,
    pub output: String,
}

/// Tries each buildpack's `bin/detect` in order; the first to exit 0 wins. A buildpack whose
/// detect is missing or fails to start is skipped with a warning, as Cloud Foundry does.
pub(super) fn detect<'a>(
    scripts: &Scripts,
    buildpacks: &'a [Buildpack],
    build_dir: &Path,
) -> Result<Detected<'a>, BuilderError> {
    for buildpack in buildpacks {
        if !buildpack.has("detect") {
            eprintln!("buildpack {} has no bin/detect; skipping it", buildpack.key);
            continue;
        }
        if let Ok(output) = scripts.capture(buildpack, "detect", &[build_dir.as_os_str()]) {
            let output = output.trim().to_owned();
            return Ok(Detected { buildpack, output });
        }
    }
    Err(BuilderError::NoAppDetected)
}
