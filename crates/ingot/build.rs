//! Zips the built-in buildpacks (`buildpacks/` at the repository root) into the binary, so
//! `ingot up` installs them with nothing else on disk.

use std::{
    fs,
    io::Write,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

/// Cloud Foundry's standard detection order.
const ORDER: &[&str] = &[
    "staticfile_buildpack",
    "java_buildpack",
    "ruby_buildpack",
    "nodejs_buildpack",
    "go_buildpack",
    "python_buildpack",
    "binary_buildpack",
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"))
        .join("../../buildpacks");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    println!("cargo:rerun-if-changed={}", root.display());
    let mut table = String::from("pub const BUILTIN_BUILDPACKS: &[(&str, &[u8])] = &[\n");
    for name in ORDER {
        let dir = root.join(name);
        println!("cargo:rerun-if-changed={}", dir.display());
        let zip_path = out.join(format!("{name}.zip"));
        zip_dir(&dir, &zip_path);
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            zip_path.display().to_string()
        ));
    }
    table.push_str("];\n");
    fs::write(out.join("buildpacks.rs"), table).expect("write buildpacks.rs");
}

/// Zips `dir` with paths relative to it, keeping file modes (bin/* must stay executable).
fn zip_dir(dir: &Path, to: &Path) {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let mut zip = zip::ZipWriter::new(fs::File::create(to).expect("create zip"));
    for relative in files {
        let path = dir.join(&relative);
        println!("cargo:rerun-if-changed={}", path.display());
        let mode = fs::metadata(&path).expect("stat").permissions().mode();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode & 0o777);
        zip.start_file(relative.to_string_lossy(), options)
            .expect("zip entry");
        zip.write_all(&fs::read(&path).expect("read buildpack file"))
            .expect("zip write");
    }
    zip.finish().expect("finish zip");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            files.push(path.strip_prefix(root).expect("inside root").to_path_buf());
        }
    }
}
