use std::io;
use std::path::{Component, Path, PathBuf};

/// Makes `path` absolute against the current directory and removes `.` and `..` lexically, as
/// Go's `filepath.Abs` does: the lifecycle's paths are relative to the container root, and
/// buildpacks and apps expect clean absolute paths in their arguments and environment.
pub(crate) fn absolute(path: &Path) -> io::Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in std::path::absolute(path)?.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_against_the_current_directory_and_cleans() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("tmp/app")).unwrap(), cwd.join("tmp/app"));
        assert_eq!(absolute(Path::new(".")).unwrap(), cwd);
        assert_eq!(
            absolute(Path::new("/a/b/../c/./d")).unwrap(),
            Path::new("/a/c/d")
        );
    }
}
