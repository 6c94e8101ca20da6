// How a built-in buildpack is assembled from this folder: the files of its own directory
// (`<name>/`), plus every file of the shared `lib/` at the same path inside it (so
// `lib/common.sh` is in each). The result is a self-contained buildpack directory.
//
// Included with `include!` by crates/ingot/build.rs, which zips each buildpack into the
// binary, and by crates/lifecycle/tests/buildpacks.rs, which stages the sample apps with
// them; both therefore assemble a buildpack the same way.

use std::path::{Path, PathBuf};

/// The built-in buildpacks, in Cloud Foundry's default detection order.
pub const ORDER: [&str; 7] = [
    "staticfile_buildpack",
    "java_buildpack",
    "ruby_buildpack",
    "nodejs_buildpack",
    "go_buildpack",
    "python_buildpack",
    "binary_buildpack",
];

/// The folder (beside the buildpacks) whose files every buildpack gets, at the same path.
pub const SHARED: &str = "lib";

/// The files of buildpack `name` once assembled from the buildpacks folder `root`: pairs of
/// (path inside the buildpack, file on disk), sorted by path. A buildpack may not have a file
/// of its own where a shared one goes.
pub fn buildpack_files(root: &Path, name: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut files = std::collections::BTreeMap::new();
    files_under(&root.join(name), Path::new(""), &mut files);
    let mut shared = std::collections::BTreeMap::new();
    files_under(&root.join(SHARED), Path::new(SHARED), &mut shared);
    for (relative, path) in shared {
        if files.contains_key(&relative) {
            panic!(
                "{name}/{} has the path of the shared buildpacks/{0}: remove one of them",
                relative.display()
            );
        }
        files.insert(relative, path);
    }
    files.into_iter().collect()
}

/// Every file below `dir`, keyed by its path below `dir` joined to `prefix`.
fn files_under(
    dir: &Path,
    prefix: &Path,
    files: &mut std::collections::BTreeMap<PathBuf, PathBuf>,
) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let relative = prefix.join(path.file_name().expect("file name"));
        if path.is_dir() {
            files_under(&path, &relative, files);
        } else {
            files.insert(relative, path);
        }
    }
}
