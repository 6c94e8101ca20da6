//! Zips the built-in buildpacks (`buildpacks/` at the repository root) into the binary, so
//! `ingot up` installs them with nothing else on disk. Each zip is a self-contained buildpack:
//! its own directory plus the shared `buildpacks/lib/` (see `buildpacks/builtin.rs`).

use std::{fs, io::Write, os::unix::fs::PermissionsExt, path::PathBuf};

mod builtin {
    include!("../../buildpacks/builtin.rs");
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"))
        .join("../../buildpacks");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    // A directory is rescanned as a whole: any buildpack file, the shared lib/ and builtin.rs.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut table = String::from("pub const BUILTIN_BUILDPACKS: &[(&str, &[u8])] = &[\n");
    for name in builtin::ORDER {
        let zip_path = out.join(format!("{name}.zip"));
        zip_files(&builtin::buildpack_files(&root, name), &zip_path);
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            zip_path.display().to_string()
        ));
    }
    table.push_str("];\n");
    fs::write(out.join("buildpacks.rs"), table).expect("write buildpacks.rs");
}

/// Zips `files` (path in the zip, file on disk), keeping file modes (bin/* must stay
/// executable).
fn zip_files(files: &[(PathBuf, PathBuf)], to: &std::path::Path) {
    let mut zip = zip::ZipWriter::new(fs::File::create(to).expect("create zip"));
    for (relative, path) in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let mode = fs::metadata(path).expect("stat").permissions().mode();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode & 0o777);
        zip.start_file(relative.to_string_lossy(), options)
            .expect("zip entry");
        zip.write_all(&fs::read(path).expect("read buildpack file"))
            .expect("zip write");
    }
    zip.finish().expect("finish zip");
}
