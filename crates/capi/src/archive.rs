//! Untrusted zips (app packages, buildpacks): every entry is checked before anything is
//! kept, and a package is rebuilt as a fresh zip from what passed.
//!
//! Rules: no absolute paths, drive letters, backslashes or `..`; no devices, fifos or
//! sockets; a symlink must point inside the tree without passing through another symlink,
//! and no entry may sit under a symlink (extraction would follow it); no duplicate paths;
//! bounded entry count, total size and compression ratio (zip bombs), and an entry may not
//! inflate beyond the size its header declares.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{self, Read, Write},
    path::Path,
};

use sha1::{Digest, Sha1};
use sha2::Sha256;
use tempfile::TempPath;
use zip::{ZipArchive, ZipWriter, write::SimpleFileOptions};

/// An entry bigger than this may not be compressed better than `MAX_RATIO` (zip bombs).
const RATIO_FLOOR: u64 = 1 << 20;
/// Largest uncompressed/compressed ratio of an entry bigger than `RATIO_FLOOR` bytes.
const MAX_RATIO: u64 = 200;

/// Bounds on what one archive may expand to, and which of its files the resource cache
/// keeps; built from [`crate::Settings`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total uncompressed bytes.
    pub max_bytes: u64,
    pub max_entries: usize,
    /// The sizes of the files the resource cache keeps.
    pub resource_min_bytes: u64,
    pub resource_max_bytes: u64,
}

impl Limits {
    pub fn of(settings: &crate::Settings) -> Self {
        Self {
            max_bytes: settings.package_max_bytes,
            max_entries: settings.package_max_entries,
            resource_min_bytes: settings.resource_min_bytes,
            resource_max_bytes: settings.resource_max_bytes,
        }
    }

    /// Whether the resource cache keeps (and matches) a file of this size.
    pub fn cacheable(&self, size: u64) -> bool {
        (self.resource_min_bytes..=self.resource_max_bytes).contains(&size)
    }

    fn check_entries(&self, entries: usize) -> Result<(), ArchiveError> {
        if entries > self.max_entries {
            return Err(invalid(format!(
                "it has more than {} entries",
                self.max_entries
            )));
        }
        Ok(())
    }

    fn check_total(&self, total: u64) -> Result<(), ArchiveError> {
        if total > self.max_bytes {
            return Err(invalid(format!(
                "it expands to more than {} bytes",
                self.max_bytes
            )));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive breaks a rule; the text says which.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn invalid(msg: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid(msg.into())
}

// ----- pure rules -----

/// An entry's path as stored: `/`-separated, relative, without `.` segments or a trailing
/// slash. `Ok(None)` for the root itself (`./`).
pub fn clean_path(name: &str) -> Result<Option<String>, String> {
    let bytes = name.as_bytes();
    if name.contains('\0') || name.contains('\\') {
        return Err(format!("path {name:?} contains an invalid character"));
    }
    if name.starts_with('/')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
    {
        return Err(format!("path {name:?} is absolute"));
    }
    let mut segments = Vec::new();
    for s in name.split('/') {
        match s {
            "" | "." => {}
            ".." => return Err(format!("path {name:?} leaves the package")),
            s => segments.push(s),
        }
    }
    Ok((!segments.is_empty()).then(|| segments.join("/")))
}

/// A file mode from the archive or a resource: permission bits only, and always readable
/// and writable by its owner so the builder can use it.
pub fn file_mode(mode: u32) -> u32 {
    (mode & 0o777) | 0o600
}

/// A resource's octal `mode` string as the cf CLI sends it ("644", "0755").
pub fn parse_mode(mode: &str) -> Result<u32, String> {
    u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| *m <= 0o7777 && !mode.is_empty())
        .ok_or_else(|| format!("mode {mode:?} is not an octal file mode"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File { mode: u32 },
    Symlink { target: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
}

fn parent_dirs(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The tree-wide rules: unique paths, nothing under a symlink, symlinks that stay inside.
pub fn check_tree(entries: &[Entry]) -> Result<(), String> {
    let mut seen = HashSet::new();
    let links: HashMap<&str, &str> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Symlink { target } => Some((e.path.as_str(), target.as_str())),
            _ => None,
        })
        .collect();
    for e in entries {
        if !seen.insert(e.path.as_str()) {
            return Err(format!("path {:?} appears twice", e.path));
        }
        if let Some(dir) = parent_dirs(&e.path).find(|d| links.contains_key(d)) {
            return Err(format!("path {:?} lies under the symlink {dir:?}", e.path));
        }
    }
    for (path, target) in &links {
        check_link(path, target, &links)?;
    }
    Ok(())
}

/// Resolves `target` from the link's directory without leaving the tree or walking through
/// another link.
fn check_link(path: &str, target: &str, links: &HashMap<&str, &str>) -> Result<(), String> {
    let escapes = || format!("symlink {path:?} points outside the package");
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\0')
        || target.contains('\\')
    {
        return Err(escapes());
    }
    let mut at: Vec<&str> = path.split('/').collect();
    at.pop();
    let segments: Vec<&str> = target
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    for (i, s) in segments.iter().enumerate() {
        if *s == ".." {
            at.pop().ok_or_else(escapes)?;
        } else {
            at.push(s);
        }
        if i + 1 < segments.len() && links.contains_key(at.join("/").as_str()) {
            return Err(format!("symlink {path:?} points through another symlink"));
        }
    }
    Ok(())
}

// ----- reading and rebuilding zips -----

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const MAX_LINK_TARGET: u64 = 4096;

/// One entry read from the central directory.
struct Listed {
    index: usize,
    entry: Entry,
    size: u64,
}

fn open(zip: &Path) -> Result<ZipArchive<File>, ArchiveError> {
    ZipArchive::new(File::open(zip)?).map_err(|e| invalid(format!("not a valid zip file: {e}")))
}

fn zip_err(e: zip::result::ZipError) -> ArchiveError {
    match e {
        zip::result::ZipError::Io(e) => ArchiveError::Io(e),
        other => invalid(format!("not a valid zip file: {other}")),
    }
}

/// Lists and checks every entry, from the central directory (which is also where Go's
/// streaming writer puts the sizes).
fn list(archive: &mut ZipArchive<File>, limits: &Limits) -> Result<Vec<Listed>, ArchiveError> {
    limits.check_entries(archive.len())?;
    let mut total = 0u64;
    let mut out = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(zip_err)?;
        let name = file.name().to_owned();
        let Some(path) = clean_path(&name).map_err(invalid)? else {
            continue;
        };
        let mode = file.unix_mode().unwrap_or(0);
        let kind = match mode & S_IFMT {
            _ if file.is_dir() => Kind::Dir,
            S_IFDIR => Kind::Dir,
            0 | S_IFREG => Kind::File {
                mode: file_mode(if mode == 0 { 0o644 } else { mode }),
            },
            S_IFLNK => {
                let mut target = String::new();
                (&mut file)
                    .take(MAX_LINK_TARGET)
                    .read_to_string(&mut target)
                    .map_err(|_| invalid(format!("symlink {path:?} has an unreadable target")))?;
                Kind::Symlink { target }
            }
            _ => return Err(invalid(format!("{path:?} is a device or special file"))),
        };
        let size = file.size();
        if size > RATIO_FLOOR && size / file.compressed_size().max(1) > MAX_RATIO {
            return Err(invalid(format!("{path:?} is compressed suspiciously well")));
        }
        total = total.saturating_add(size);
        limits.check_total(total)?;
        out.push(Listed {
            index,
            entry: Entry { path, kind },
            size,
        });
    }
    Ok(out)
}

/// Copies at most `declared` bytes; an entry that inflates further lied about its size.
fn copy_exact(
    from: &mut impl Read,
    to: &mut impl Write,
    declared: u64,
    path: &str,
) -> Result<(), ArchiveError> {
    let copied = io::copy(&mut from.take(declared.saturating_add(1)), to)?;
    if copied != declared {
        return Err(invalid(format!(
            "{path:?} does not match its declared size"
        )));
    }
    Ok(())
}

/// Checks a zip (a buildpack) without keeping anything.
pub fn check(zip: &Path, limits: &Limits) -> Result<(), ArchiveError> {
    let mut archive = open(zip)?;
    let listed = list(&mut archive, limits)?;
    let entries: Vec<Entry> = listed.iter().map(|l| l.entry.clone()).collect();
    check_tree(&entries).map_err(invalid)?;
    for l in &listed {
        if let Kind::File { .. } = l.entry.kind {
            let mut file = archive.by_index(l.index).map_err(zip_err)?;
            copy_exact(&mut file, &mut io::sink(), l.size, &l.entry.path)?;
        }
    }
    Ok(())
}

/// A file the cf CLI did not upload because the resource cache has it; `file` is a local
/// copy of the cached blob.
pub struct Matched<'a> {
    pub path: String,
    pub mode: u32,
    pub file: &'a Path,
}

/// The rebuilt package.
pub struct Repacked {
    pub file: TempPath,
    pub sha256: String,
    /// Uploaded files the resource cache should keep: (sha1, a copy of the file).
    pub cacheable: Vec<(String, TempPath)>,
}

/// Hashes what passes through, for the resource cache's sha1.
struct Sha1Writer<W> {
    inner: W,
    hash: Sha1,
}

impl<W: Write> Write for Sha1Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hash = Sha256::new();
    io::copy(&mut File::open(path)?, &mut hash)?;
    Ok(hex(&hash.finalize()))
}

/// The sha256 of bytes in memory, hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Builds the final package from the uploaded zip (if any) and the matched resources, in
/// `scratch`. Every uploaded file within the resource cache's size range comes back for it.
pub fn repack(
    upload: Option<&Path>,
    matched: &[Matched<'_>],
    limits: &Limits,
    scratch: &Path,
) -> Result<Repacked, ArchiveError> {
    let (mut archive, listed) = match upload {
        Some(zip) => {
            let mut archive = open(zip)?;
            let listed = list(&mut archive, limits)?;
            (Some(archive), listed)
        }
        None => (None, Vec::new()),
    };
    let mut entries: Vec<Entry> = listed.iter().map(|l| l.entry.clone()).collect();
    let uploaded: HashSet<String> = entries.iter().map(|e| e.path.clone()).collect();
    // A resource the zip also carries is taken from the zip.
    let extra: Vec<&Matched<'_>> = matched
        .iter()
        .filter(|m| !uploaded.contains(&m.path))
        .collect();
    entries.extend(extra.iter().map(|m| Entry {
        path: m.path.clone(),
        kind: Kind::File { mode: m.mode },
    }));
    limits.check_entries(entries.len())?;
    check_tree(&entries).map_err(invalid)?;

    let out = tempfile::NamedTempFile::new_in(scratch)?;
    let mut writer = ZipWriter::new(out.reopen()?);
    let base = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    let mut cacheable_files = Vec::new();
    let mut total = 0u64;
    for l in &listed {
        let path = &l.entry.path;
        match &l.entry.kind {
            Kind::Dir => writer
                .add_directory(path.as_str(), base.unix_permissions(0o755))
                .map_err(zip_err)?,
            Kind::Symlink { target } => writer
                .add_symlink(path.as_str(), target.as_str(), base.unix_permissions(0o777))
                .map_err(zip_err)?,
            Kind::File { mode } => {
                let Some(archive) = archive.as_mut() else {
                    continue;
                };
                let mut file = archive.by_index(l.index).map_err(zip_err)?;
                writer
                    .start_file(path.as_str(), base.unix_permissions(*mode))
                    .map_err(zip_err)?;
                if limits.cacheable(l.size) {
                    let copy = tempfile::NamedTempFile::new_in(scratch)?;
                    let mut tee = Sha1Writer {
                        inner: TeeWriter(&mut writer, copy.reopen()?),
                        hash: Sha1::new(),
                    };
                    copy_exact(&mut file, &mut tee, l.size, path)?;
                    cacheable_files.push((hex(&tee.hash.finalize()), copy.into_temp_path()));
                } else {
                    copy_exact(&mut file, &mut writer, l.size, path)?;
                }
            }
        }
        total = total.saturating_add(l.size);
    }
    for m in extra {
        let size = std::fs::metadata(m.file)?.len();
        total = total.saturating_add(size);
        limits.check_total(total)?;
        writer
            .start_file(m.path.as_str(), base.unix_permissions(m.mode))
            .map_err(zip_err)?;
        io::copy(&mut File::open(m.file)?, &mut writer)?;
    }
    writer.finish().map_err(zip_err)?;
    let file = out.into_temp_path();
    let sha256 = sha256_file(&file)?;
    Ok(Repacked {
        file,
        sha256,
        cacheable: cacheable_files,
    })
}

/// Writes to both.
struct TeeWriter<'a, A, B>(&'a mut A, B);

impl<A: Write, B: Write> Write for TeeWriter<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1.write_all(&buf[..n])?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File { mode: 0o644 },
        }
    }

    fn link(path: &str, target: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::Symlink {
                target: target.into(),
            },
        }
    }

    #[test]
    fn paths() {
        assert_eq!(clean_path("a/./b//c").unwrap().as_deref(), Some("a/b/c"));
        assert_eq!(clean_path("dir/").unwrap().as_deref(), Some("dir"));
        assert_eq!(clean_path("./").unwrap(), None);
        for bad in [
            "../x",
            "a/../../x",
            "a/..",
            "/etc/passwd",
            "C:/x",
            "c:x",
            "a\\..\\b",
            "a\0b",
        ] {
            assert!(clean_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(file_mode(0o100_755), 0o755);
        assert_eq!(file_mode(0o4000 | 0o444), 0o644);
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert_eq!(parse_mode("0755"), Ok(0o755));
        for bad in ["", "9", "rwx", "77777"] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn symlinks_stay_inside() {
        assert!(
            check_tree(&[
                file("a/b"),
                link("a/l", "b"),
                link("c", "a/b"),
                link("a/up", "../c")
            ])
            .is_ok()
        );
        for bad in [
            vec![link("l", "../x")],
            vec![link("a/l", "../../x")],
            vec![link("l", "/etc/passwd")],
            vec![link("l", "")],
            // Through another link: d/s is the root, so d/s/.. is outside.
            vec![link("d/s", ".."), link("t", "d/s/../x")],
            // An entry under a link would be written through it.
            vec![link("d", "."), file("d/x")],
            vec![file("x"), file("x")],
        ] {
            assert!(check_tree(&bad).is_err(), "{bad:?}");
        }
    }
}
