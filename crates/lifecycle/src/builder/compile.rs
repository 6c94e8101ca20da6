//! The compile phase: `bin/supply` of every buildpack but the last, then the last one's
//! `bin/supply` (if any) and `bin/finalize`, or its `bin/compile` under the older contract.

use std::ffi::OsStr;
use std::path::Path;

use super::BuilderError;
use super::buildpack::{Buildpack, Scripts};
use super::cache::BuildCache;
use super::droplet::DropletContents;

const NO_SUPPLY: &str = "one of the buildpacks chosen to supply dependencies does not support \
                         multi-buildpack apps";
const NO_FINALIZE: &str = "Warning: the last buildpack is not compatible with multi-buildpack \
                           apps and cannot make use of any dependencies supplied by the \
                           buildpacks specified before it";

/// Runs the phase: the `supplying` buildpacks in order, then `last`, which finalizes the app.
pub(super) fn compile(
    scripts: &Scripts,
    supplying: &[Buildpack],
    last: &Buildpack,
    build_dir: &Path,
    contents: &DropletContents,
    cache: &BuildCache,
) -> Result<(), BuilderError> {
    // Checked up front so no supply runs for a staging that cannot finish.
    if let Some(bp) = supplying.iter().find(|bp| !bp.has("supply")) {
        return Err(BuilderError::Compile(format!("{NO_SUPPLY} ({})", bp.key)));
    }
    let deps_dir = contents.deps_dir();
    let supply = |bp: &Buildpack, cache_dir: &Path, idx: &str| {
        let args = [
            build_dir.as_os_str(),
            cache_dir.as_os_str(),
            deps_dir.as_os_str(),
            idx.as_ref(),
        ];
        scripts
            .stream(bp, "supply", &args)
            .map_err(BuilderError::Compile)
    };
    for (i, bp) in supplying.iter().enumerate() {
        supply(bp, &cache.supply_dir(&bp.key), &contents.deps_index(i))?;
    }

    let final_cache = cache.final_dir();
    let last_index = supplying.len();
    if last.has("finalize") {
        let idx = contents.deps_index(last_index);
        if last.has("supply") {
            supply(last, &final_cache, &idx)?;
        }
        let profile_dir = contents.profile_dir();
        let args: [&OsStr; 5] = [
            build_dir.as_os_str(),
            final_cache.as_os_str(),
            deps_dir.as_os_str(),
            idx.as_ref(),
            profile_dir.as_os_str(),
        ];
        scripts
            .stream(last, "finalize", &args)
            .map_err(BuilderError::Compile)
    } else {
        if !supplying.is_empty() {
            eprintln!("{NO_FINALIZE}");
        }
        contents
            .remove_deps(last_index)
            .map_err(|err| BuilderError::Staging(format!("removing unused deps dir: {err}")))?;
        let args = [build_dir.as_os_str(), final_cache.as_os_str()];
        scripts
            .stream(last, "compile", &args)
            .map_err(BuilderError::Compile)
    }
}
