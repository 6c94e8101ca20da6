//! Stream in and stream out: tar archives to and from a container's file system.
//!
//! The `tar` crate is synchronous, so the work runs on the blocking pool with a bridge to
//! the async stream.

use std::path::PathBuf;

use tokio_util::io::SyncIoBridge;

use crate::error::Error;
use crate::io::TarStream;

/// How much of an outgoing archive may be buffered before the reader catches up.
const PIPE_BYTES: usize = 64 * 1024;

/// Unpacks `tar` into `dest`, creating it. The `tar` crate refuses entries that would land
/// outside `dest`.
pub(crate) async fn unpack(dest: PathBuf, tar: TarStream) -> Result<(), Error> {
    tokio::fs::create_dir_all(&dest)
        .await
        .map_err(|e| Error::io(dest.display(), e))?;
    let reader = SyncIoBridge::new(tar);
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive
            .unpack(&dest)
            .map_err(|e| Error::io(format!("unpacking into {}", dest.display()), e))
    })
    .await
    .map_err(|e| Error::io("unpacking", e))?
}

/// Packs `src` into a tar stream. With `contents_only` the entries are the directory's
/// contents; otherwise one entry (or tree) named after `src`'s last component.
pub(crate) async fn pack(src: PathBuf, contents_only: bool) -> Result<TarStream, Error> {
    let meta = tokio::fs::symlink_metadata(&src)
        .await
        .map_err(|e| Error::io(src.display(), e))?;
    let name = src
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let writer = SyncIoBridge::new(writer);
    tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        let written = if meta.is_dir() {
            let name = if contents_only {
                PathBuf::from(".")
            } else {
                name
            };
            builder.append_dir_all(&name, &src)
        } else {
            builder.append_path_with_name(&src, &name)
        };
        // A failure mid-way truncates the stream, which the reader sees as a bad archive.
        if let Err(e) = written.and_then(|()| builder.finish()) {
            tracing::warn!(path = %src.display(), error = %e, "streaming out");
        }
    });
    Ok(Box::new(reader))
}
