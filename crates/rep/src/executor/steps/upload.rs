//! Upload: streams a file out of the container and POSTs it to a URL.

use async_trait::async_trait;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::{Step, StepContext, StepError};

pub struct UploadStep {
    ctx: StepContext,
    from: String,
    to: String,
}

impl UploadStep {
    pub fn new(ctx: StepContext, from: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            ctx,
            from: from.into(),
            to: to.into(),
        }
    }

    async fn upload(&self) -> Result<(), StepError> {
        let fail = |e: &dyn std::fmt::Display| StepError::Failed(format!("Upload failed: {e}"));
        let bytes = read_file(self.ctx.container.as_ref(), &self.from)
            .await
            .map_err(|e| fail(&e))?;
        let response = self
            .ctx
            .http
            .post(&self.to)
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(|e| fail(&e))?;
        if !response.status().is_success() {
            return Err(fail(&format!("status {}", response.status())));
        }
        Ok(())
    }
}

/// The contents of one file in a container, through `stream_out`.
pub(crate) async fn read_file(
    container: &dyn ingot_garden::Container,
    path: &str,
) -> Result<Vec<u8>, String> {
    let mut stream = container
        .stream_out(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut tar = Vec::new();
    stream
        .read_to_end(&mut tar)
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(&tar[..]);
        for entry in archive.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            if entry.header().entry_type().is_file() {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data).map_err(|e| e.to_string())?;
                return Ok(data);
            }
        }
        Err("no file in the archive".to_owned())
    })
    .await
    .map_err(|e| e.to_string())?
}

#[async_trait]
impl Step for UploadStep {
    async fn perform(&self, cancel: &CancellationToken) -> Result<(), StepError> {
        tokio::select! {
            result = self.upload() => result,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::executor::steps::testing::context;

    #[tokio::test]
    async fn posts_the_file() {
        let (ctx, _garden, _sink) = context().await;
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(7);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "droplet.tgz", &b"droplet"[..])
            .unwrap();
        let tar = builder.into_inner().unwrap();
        ctx.container
            .stream_in("/tmp/droplet.tgz", Box::new(Cursor::new(tar)))
            .await
            .unwrap();

        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/droplets",
            axum::routing::post(move |body: axum::body::Bytes| {
                sink.lock().unwrap().extend_from_slice(&body);
                async { "ok" }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        UploadStep::new(ctx, "/tmp/droplet.tgz", format!("http://{addr}/droplets"))
            .perform(&CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(*received.lock().unwrap(), b"droplet");
    }

    #[tokio::test]
    async fn a_missing_file_fails() {
        let (ctx, _garden, _sink) = context().await;
        let err = UploadStep::new(ctx, "/nope", "http://127.0.0.1:9/x")
            .perform(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("Upload failed"), "{err}");
    }
}
