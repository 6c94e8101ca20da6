//! Download: fetches an http(s) URL, verifies its checksum, and streams it into the container.
//! A `.tgz`, `.tar` or `.zip` archive is unpacked into `to`; anything else becomes the file
//! `to`. Downloads with a cache key are kept in the cell's download cache.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use super::{Step, StepContext, StepError};

/// The cell's download cache: one file per cache key.
#[derive(Debug)]
pub struct DownloadCache {
    dir: PathBuf,
}

impl DownloadCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(hex(&sha2::Sha256::digest(key.as_bytes())))
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        tokio::fs::read(self.path(key)).await.ok()
    }

    /// Best effort: a cache that cannot be written only costs a later download.
    pub async fn put(&self, key: &str, bytes: &[u8]) {
        if tokio::fs::create_dir_all(&self.dir).await.is_err() {
            return;
        }
        let tmp = self.path(&format!("{key}.partial"));
        if tokio::fs::write(&tmp, bytes).await.is_ok() {
            let _ = tokio::fs::rename(&tmp, self.path(key)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An expected digest: `md5`, `sha1` or `sha256`, hex encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: String,
    pub value: String,
}

impl Checksum {
    fn verify(&self, bytes: &[u8]) -> Result<(), StepError> {
        let actual = match self.algorithm.as_str() {
            "md5" => hex(&md5::Md5::digest(bytes)),
            "sha1" => hex(&sha1::Sha1::digest(bytes)),
            "sha256" => hex(&sha2::Sha256::digest(bytes)),
            other => {
                return Err(StepError::Failed(format!(
                    "unsupported checksum algorithm {other}"
                )));
            }
        };
        if actual.eq_ignore_ascii_case(&self.value) {
            Ok(())
        } else {
            Err(StepError::Failed(format!(
                "checksum mismatch: {} expected {}, got {actual}",
                self.algorithm, self.value
            )))
        }
    }
}

pub struct DownloadStep {
    ctx: StepContext,
    from: String,
    to: String,
    cache_key: String,
    checksum: Option<Checksum>,
}

impl DownloadStep {
    pub fn new(
        ctx: StepContext,
        from: impl Into<String>,
        to: impl Into<String>,
        cache_key: impl Into<String>,
        checksum: Option<Checksum>,
    ) -> Self {
        Self {
            ctx,
            from: from.into(),
            to: to.into(),
            cache_key: cache_key.into(),
            checksum,
        }
    }

    async fn fetch(&self) -> Result<Vec<u8>, StepError> {
        if !self.cache_key.is_empty()
            && let Some(bytes) = self.ctx.cache.get(&self.cache_key).await
        {
            return Ok(bytes);
        }
        let fail =
            |e: &dyn std::fmt::Display| StepError::Failed(format!("Downloading failed: {e}"));
        let response = self
            .ctx
            .http
            .get(&self.from)
            .send()
            .await
            .map_err(|e| fail(&e))?;
        if !response.status().is_success() {
            return Err(fail(&format!("status {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| fail(&e))?.to_vec();
        if let Some(checksum) = &self.checksum {
            checksum.verify(&bytes)?;
        }
        if !self.cache_key.is_empty() {
            self.ctx.cache.put(&self.cache_key, &bytes).await;
        }
        Ok(bytes)
    }
}

#[async_trait]
impl Step for DownloadStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        let bytes = tokio::select! {
            bytes = self.fetch() => bytes?,
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        };
        let to = self.to.clone();
        let (dir, tar) = tokio::task::spawn_blocking(move || as_tar(bytes, &to))
            .await
            .map_err(|e| StepError::Failed(format!("unpacking failed: {e}")))??;
        self.ctx
            .container
            .stream_in(&dir, Box::new(Cursor::new(tar)))
            .await
            .map_err(|e| StepError::Failed(format!("Copying into the container failed: {e}")))
    }
}

/// Where to stream, and the tar to stream there.
fn as_tar(bytes: Vec<u8>, to: &str) -> Result<(String, Vec<u8>), StepError> {
    let fail = |e: std::io::Error| StepError::Failed(format!("unpacking failed: {e}"));
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut tar)
            .map_err(fail)?;
        return Ok((to.to_owned(), tar));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok((to.to_owned(), zip_to_tar(&bytes)?));
    }
    if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        return Ok((to.to_owned(), bytes));
    }
    // A plain file: `to` names the file itself.
    let path = Path::new(to);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StepError::Failed(format!("cannot download a file to {to}")))?;
    let dir = path
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_owned());
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder
        .append_data(&mut header, name, &bytes[..])
        .map_err(fail)?;
    Ok((dir, builder.into_inner().map_err(fail)?))
}

fn zip_to_tar(bytes: &[u8]) -> Result<Vec<u8>, StepError> {
    let fail = |e: &dyn std::fmt::Display| StepError::Failed(format!("unpacking zip failed: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| fail(&e))?;
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| fail(&e))?;
        let Some(name) = entry.enclosed_name() else {
            continue; // an entry escaping the archive root is skipped
        };
        let mut header = tar::Header::new_gnu();
        if entry.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(entry.unix_mode().unwrap_or(0o755) & 0o7777);
            header.set_size(0);
            header.set_cksum();
            builder
                .append_data(&mut header, &name, std::io::empty())
                .map_err(|e| fail(&e))?;
        } else {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| fail(&e))?;
            header.set_mode(entry.unix_mode().unwrap_or(0o644) & 0o7777);
            header.set_size(data.len() as u64);
            header.set_cksum();
            builder
                .append_data(&mut header, &name, &data[..])
                .map_err(|e| fail(&e))?;
        }
    }
    builder.into_inner().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ingot_garden::testing::FakeCall;

    use super::*;
    use crate::executor::steps::testing::context;

    /// Serves `body` at `/file` and counts requests.
    async fn serve(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/file",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { body }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/file"), hits)
    }

    /// Each stream-in: its path and the (name, contents) of its tar's entries.
    type Streamed = Vec<(String, Vec<(String, Vec<u8>)>)>;

    fn streamed_in(calls: Vec<FakeCall>) -> Streamed {
        calls
            .into_iter()
            .filter_map(|c| match c {
                FakeCall::StreamIn { path, bytes, .. } => {
                    let mut archive = tar::Archive::new(&bytes[..]);
                    let entries = archive
                        .entries()
                        .unwrap()
                        .map(|e| {
                            let mut e = e.unwrap();
                            let name = e.path().unwrap().to_string_lossy().into_owned();
                            let mut data = Vec::new();
                            e.read_to_end(&mut data).unwrap();
                            (name, data)
                        })
                        .collect();
                    Some((path, entries))
                }
                _ => None,
            })
            .collect()
    }

    fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[tokio::test]
    async fn a_tgz_is_unpacked_into_the_directory_and_cached() {
        let (mut ctx, garden, _sink) = context().await;
        let cache_dir = tempfile::tempdir().unwrap();
        ctx.cache = Arc::new(DownloadCache::new(cache_dir.path()));
        let body = tgz(&[("app/run.sh", b"echo hi")]);
        let sum = hex(&sha2::Sha256::digest(&body));
        let (url, hits) = serve(body).await;
        let checksum = Checksum {
            algorithm: "sha256".into(),
            value: sum,
        };
        let step = DownloadStep::new(ctx.clone(), &url, "/home/vcap", "droplet-1", Some(checksum));
        step.perform(&CancellationToken::new()).await.unwrap();
        step.perform(&CancellationToken::new()).await.unwrap();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "the second download came from the cache"
        );
        let streamed = streamed_in(garden.calls());
        assert_eq!(streamed.len(), 2);
        assert_eq!(streamed[0].0, "/home/vcap");
        assert_eq!(
            streamed[0].1,
            [("app/run.sh".to_owned(), b"echo hi".to_vec())]
        );
    }

    #[tokio::test]
    async fn a_zip_becomes_a_tar() {
        let (ctx, garden, _sink) = context().await;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("bp/bin/detect", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"#!/bin/sh").unwrap();
        let body = zip.finish().unwrap().into_inner();
        let (url, _) = serve(body).await;
        DownloadStep::new(ctx, &url, "/tmp/bp", "", None)
            .perform(&CancellationToken::new())
            .await
            .unwrap();
        let streamed = streamed_in(garden.calls());
        assert_eq!(
            streamed[0].1,
            [("bp/bin/detect".to_owned(), b"#!/bin/sh".to_vec())]
        );
    }

    #[tokio::test]
    async fn a_plain_file_lands_at_its_path() {
        let (ctx, garden, _sink) = context().await;
        let (url, _) = serve(b"plain".to_vec()).await;
        DownloadStep::new(ctx, &url, "/tmp/lifecycle/launcher", "", None)
            .perform(&CancellationToken::new())
            .await
            .unwrap();
        let streamed = streamed_in(garden.calls());
        assert_eq!(streamed[0].0, "/tmp/lifecycle");
        assert_eq!(streamed[0].1, [("launcher".to_owned(), b"plain".to_vec())]);
    }

    #[tokio::test]
    async fn a_bad_checksum_fails() {
        let (ctx, _garden, _sink) = context().await;
        let (url, _) = serve(b"data".to_vec()).await;
        let checksum = Checksum {
            algorithm: "sha1".into(),
            value: "00".into(),
        };
        let err = DownloadStep::new(ctx, &url, "/tmp/x", "", Some(checksum))
            .perform(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("checksum mismatch: sha1"),
            "{err}"
        );
    }

    #[test]
    fn every_supported_algorithm_verifies() {
        let sum = |algorithm: &str, value: &str| Checksum {
            algorithm: algorithm.into(),
            value: value.into(),
        };
        // The digests of "abc".
        sum("md5", "900150983cd24fb0d6963f7d28e17f72")
            .verify(b"abc")
            .unwrap();
        sum("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d")
            .verify(b"abc")
            .unwrap();
        sum(
            "sha256",
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        )
        .verify(b"abc")
        .unwrap();
        assert!(sum("crc32", "0").verify(b"abc").is_err());
    }

    #[tokio::test]
    async fn a_missing_file_fails_with_the_status() {
        let (ctx, _garden, _sink) = context().await;
        let (url, _) = serve(Vec::new()).await;
        let err = DownloadStep::new(ctx, url.replace("/file", "/nope"), "/tmp/x", "", None)
            .perform(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
    }
}
