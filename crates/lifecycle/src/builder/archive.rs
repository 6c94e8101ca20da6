use std::fs::File;
use std::io;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// Writes a gzipped tar holding each `(name, dir)` tree under `name` (`""` puts the dir's
/// entries at the root). Modes and symlinks are kept as they are: a droplet must run exactly
/// as the buildpacks left it. The fastest gzip level: a droplet is uploaded once, right away,
/// and compressing a runtime or a compiled binary harder costs more time than it saves.
pub(super) fn write_tgz(output: &Path, trees: &[(&str, &Path)]) -> io::Result<()> {
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let gz = GzEncoder::new(File::create(output)?, Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    for (name, dir) in trees {
        tar.append_dir_all(name, dir)?;
    }
    tar.into_inner()?.finish()?;
    Ok(())
}
