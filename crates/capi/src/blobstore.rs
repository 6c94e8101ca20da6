//! The blobstore: packages, droplets, buildpacks, build caches and the resource cache, kept
//! as opaque blobs under string keys such as `packages/<sha256>`.
//!
//! It is a trait so an S3-compatible store can replace the local directory in a distributed
//! deployment; callers never see paths inside the store.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncReadExt;

/// A blob's contents, chunk by chunk.
pub type BlobStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

#[async_trait]
pub trait Blobstore: Send + Sync {
    /// Stores `file` (a file under [`Blobstore::scratch_dir`], which the store may take
    /// over) under `key`, replacing any blob there. Readers see the old or the new blob,
    /// never a partial one.
    async fn put_file(&self, key: &str, file: &Path) -> io::Result<()>;

    /// The blob's contents and its size, or `None` when there is no such blob.
    async fn get(&self, key: &str) -> io::Result<Option<(u64, BlobStream)>>;

    /// Copies the blob to `dest` (a new file); false when there is no such blob.
    async fn copy_to(&self, key: &str, dest: &Path) -> io::Result<bool>;

    async fn exists(&self, key: &str) -> io::Result<bool>;

    /// Removes the blob; a missing blob is fine.
    async fn delete(&self, key: &str) -> io::Result<()>;

    /// A directory on the local disk for work files (uploads being checked, zips being
    /// built); files there can be handed to `put_file` cheaply.
    fn scratch_dir(&self) -> &Path;
}

/// Blobs as files under one directory: `<root>/<prefix>/<ab>/<cd>/<name>`, sharded by the
/// name's first characters so no directory grows huge.
pub struct LocalBlobstore {
    root: PathBuf,
    scratch: PathBuf,
}

fn invalid(key: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("bad blob key {key:?}"))
}

const CHUNK: usize = 64 * 1024;

impl LocalBlobstore {
    /// A store under `root`; creates the directories if needed (a failure shows on first
    /// use).
    pub fn new(root: &Path) -> Self {
        let scratch = root.join("tmp");
        if let Err(e) = std::fs::create_dir_all(&scratch) {
            tracing::warn!(dir = %scratch.display(), error = %e, "cannot create the blobstore");
        }
        Self {
            root: root.to_owned(),
            scratch,
        }
    }

    /// Keys are `/`-separated segments of `[A-Za-z0-9._-]`, never `.` or `..`, so a key can
    /// never name a path outside the store.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let segments: Vec<&str> = key.split('/').collect();
        let ok = segments.iter().all(|s| {
            !s.is_empty()
                && *s != "."
                && *s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
        let (name, dirs) = segments.split_last().ok_or_else(|| invalid(key))?;
        if !ok || name.starts_with('.') {
            return Err(invalid(key));
        }
        let mut path = self.root.join("blobs");
        for d in dirs {
            path.push(d);
        }
        let shard: String = name.chars().chain(std::iter::repeat('_')).take(4).collect();
        path.push(&shard[..2]);
        path.push(&shard[2..]);
        path.push(name);
        Ok(path)
    }

    async fn install(&self, from: &Path, to: &Path) -> io::Result<()> {
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(from, to).await
    }
}

#[async_trait]
impl Blobstore for LocalBlobstore {
    async fn put_file(&self, key: &str, file: &Path) -> io::Result<()> {
        let dest = self.path(key)?;
        // A private copy first: the caller's file may live elsewhere or be reused.
        let tmp = tempfile::NamedTempFile::new_in(&self.scratch)?.into_temp_path();
        tokio::fs::copy(file, &tmp).await?;
        self.install(&tmp, &dest).await?;
        // The rename consumed the temp file; nothing left to remove.
        std::mem::forget(tmp);
        Ok(())
    }

    async fn get(&self, key: &str) -> io::Result<Option<(u64, BlobStream)>> {
        let file = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = file.metadata().await?.len();
        let stream = futures::stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        });
        Ok(Some((size, Box::pin(stream))))
    }

    async fn copy_to(&self, key: &str, dest: &Path) -> io::Result<bool> {
        let src = self.path(key)?;
        // A hard link costs nothing; blobs are never modified in place, only replaced.
        match tokio::fs::hard_link(&src, dest).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(_) => match tokio::fs::copy(&src, dest).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            },
        }
    }

    async fn exists(&self, key: &str) -> io::Result<bool> {
        tokio::fs::try_exists(self.path(key)?).await
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn scratch_dir(&self) -> &Path {
        &self.scratch
    }
}

/// A blobstore failure as the Cloud Controller reports it (a 500; the cause is logged).
pub fn blob_error(e: io::Error) -> crate::Error {
    crate::Error::Internal(format!("blobstore: {e}"))
}

/// The keys, named in one place.
pub mod keys {
    pub fn package(sha256: &str) -> String {
        format!("packages/{sha256}")
    }
    pub fn droplet(sha256: &str) -> String {
        format!("droplets/{sha256}")
    }
    pub fn buildpack(sha256: &str) -> String {
        format!("buildpacks/{sha256}")
    }
    /// The resource cache: app files by sha1.
    pub fn resource(sha1: &str) -> String {
        format!("resources/{sha1}")
    }
    pub fn build_cache(app_guid: &str, stack: &str) -> String {
        format!("build_cache/{app_guid}/{stack}")
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    #[tokio::test]
    async fn put_get_copy_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobstore::new(dir.path());
        let src = dir.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        store.put_file("packages/abcdef", &src).await.unwrap();
        assert!(store.exists("packages/abcdef").await.unwrap());
        assert!(dir.path().join("blobs/packages/ab/cd/abcdef").is_file());
        let (size, stream) = store.get("packages/abcdef").await.unwrap().unwrap();
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        assert_eq!((size, chunks.concat()), (5, b"hello".to_vec()));

        let dest = dir.path().join("copy");
        assert!(store.copy_to("packages/abcdef", &dest).await.unwrap());
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");

        std::fs::write(&src, b"again").unwrap();
        store.put_file("packages/abcdef", &src).await.unwrap();
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            b"hello",
            "old copy untouched"
        );
        store.delete("packages/abcdef").await.unwrap();
        store.delete("packages/abcdef").await.unwrap();
        assert!(store.get("packages/abcdef").await.unwrap().is_none());
        assert!(
            !store
                .copy_to("packages/x", &dir.path().join("y"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn keys_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobstore::new(dir.path());
        for key in [
            "",
            "../x",
            "a/../../x",
            "/abs",
            "a//b",
            "a/.hidden",
            "a/b c",
        ] {
            assert!(store.exists(key).await.is_err(), "{key}");
        }
    }
}
