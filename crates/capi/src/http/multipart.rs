//! `multipart/form-data` uploads (package bits, buildpack zips), streamed: the file part
//! goes straight to a temp file, so a large upload never sits in memory.

use std::{collections::HashMap, path::Path};

use axum::{body::Body, http::HeaderMap};
use futures::StreamExt;
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::Error;

/// The text fields and the file part of one upload.
pub struct Upload {
    pub fields: HashMap<String, String>,
    /// (file name, contents) of the file field, when sent.
    pub file: Option<(String, TempPath)>,
}

/// Text fields are small (the `resources` JSON); this bounds them all together.
const MAX_FIELD_BYTES: usize = 64 << 20;
const MAX_HEADER_BYTES: usize = 16 << 10;

fn bad(msg: &str) -> Error {
    Error::Unprocessable(format!("Invalid multipart upload: {msg}"))
}

fn boundary(headers: &HeaderMap) -> Result<String, Error> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(bad("expected multipart/form-data"));
    }
    ct.split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("no boundary"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `name` and `filename` from a part's Content-Disposition.
fn disposition(headers: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut filename = None;
    for line in headers.split("\r\n") {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        for param in value.split(';').skip(1) {
            if let Some((k, v)) = param.trim().split_once('=') {
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    _ => {}
                }
            }
        }
    }
    (name, filename)
}

enum Sink {
    Field(String, Vec<u8>),
    File(String, tokio::fs::File, TempPath),
    Skip,
}

enum State {
    Preamble,
    AfterDelimiter,
    Headers,
    Body(Sink),
    Done,
}

/// Reads the whole body; `file_field` is written under `scratch`, at most `max_file_bytes`.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    file_field: &str,
    scratch: &Path,
    max_file_bytes: u64,
) -> Result<Upload, Error> {
    let delim = format!("\r\n--{}", boundary(headers)?).into_bytes();
    let mut upload = Upload {
        fields: HashMap::new(),
        file: None,
    };
    // A leading CRLF lets the first delimiter match like the others.
    let mut buf = b"\r\n".to_vec();
    let mut state = State::Preamble;
    let mut field_bytes = 0usize;
    let mut file_bytes = 0u64;
    let mut stream = body.into_data_stream();
    let mut ended = false;
    loop {
        // Make as much progress as the buffer allows.
        let progressed = match &mut state {
            State::Preamble => match find(&buf, &delim) {
                Some(i) => {
                    buf.drain(..i + delim.len());
                    state = State::AfterDelimiter;
                    true
                }
                None => false,
            },
            State::AfterDelimiter if buf.len() >= 2 => {
                if buf.starts_with(b"--") {
                    state = State::Done;
                } else if buf.starts_with(b"\r\n") {
                    buf.drain(..2);
                    state = State::Headers;
                } else {
                    return Err(bad("malformed boundary"));
                }
                true
            }
            State::AfterDelimiter => false,
            State::Headers => match find(&buf, b"\r\n\r\n") {
                Some(i) => {
                    let text = String::from_utf8_lossy(&buf[..i]).into_owned();
                    buf.drain(..i + 4);
                    let sink = match disposition(&text) {
                        (Some(name), filename) if name == file_field => {
                            let tmp = tempfile::NamedTempFile::new_in(scratch)
                                .map_err(|e| Error::Internal(e.to_string()))?;
                            let file = tokio::fs::File::from_std(
                                tmp.reopen().map_err(|e| Error::Internal(e.to_string()))?,
                            );
                            Sink::File(filename.unwrap_or_default(), file, tmp.into_temp_path())
                        }
                        (Some(name), _) => Sink::Field(name, Vec::new()),
                        (None, _) => Sink::Skip,
                    };
                    state = State::Body(sink);
                    true
                }
                None if buf.len() > MAX_HEADER_BYTES => return Err(bad("part headers too long")),
                None => false,
            },
            State::Body(sink) => {
                let (take, found) = match find(&buf, &delim) {
                    Some(i) => (i, true),
                    None => (buf.len().saturating_sub(delim.len() - 1), false),
                };
                match sink {
                    Sink::Field(_, data) => {
                        field_bytes += take;
                        if field_bytes > MAX_FIELD_BYTES {
                            return Err(bad("form fields too large"));
                        }
                        data.extend_from_slice(&buf[..take]);
                    }
                    Sink::File(_, file, _) => {
                        file_bytes += take as u64;
                        if file_bytes > max_file_bytes {
                            return Err(Error::Unprocessable(format!(
                                "The uploaded file is larger than {max_file_bytes} bytes"
                            )));
                        }
                        file.write_all(&buf[..take])
                            .await
                            .map_err(|e| Error::Internal(e.to_string()))?;
                    }
                    Sink::Skip => {}
                }
                buf.drain(..take);
                if found {
                    buf.drain(..delim.len());
                    match std::mem::replace(&mut state, State::AfterDelimiter) {
                        State::Body(Sink::Field(name, data)) => {
                            upload
                                .fields
                                .insert(name, String::from_utf8_lossy(&data).into_owned());
                        }
                        State::Body(Sink::File(name, mut file, path)) => {
                            file.flush()
                                .await
                                .map_err(|e| Error::Internal(e.to_string()))?;
                            upload.file = Some((name, path));
                        }
                        _ => {}
                    }
                }
                found
            }
            State::Done => return Ok(upload),
        };
        if progressed {
            continue;
        }
        if ended {
            return Err(bad("the body ended early"));
        }
        match stream.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(bad(&e.to_string())),
            None => ended = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", ct.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn fields_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"resources\"\r\n\r\n[]\r\n--XyZ\r\nContent-Disposition: form-data; name=\"bits\"; filename=\"package.zip\"\r\nContent-Type: application/octet-stream\r\n\r\nPK\r\n--Xy\r\n--XyZ--\r\n";
        let up = read(
            &headers("multipart/form-data; boundary=XyZ"),
            Body::from(body),
            "bits",
            dir.path(),
            1000,
        )
        .await
        .unwrap();
        assert_eq!(up.fields["resources"], "[]");
        let (name, path) = up.file.unwrap();
        assert_eq!(name, "package.zip");
        assert_eq!(std::fs::read(&path).unwrap(), b"PK\r\n--Xy");
    }

    #[tokio::test]
    async fn rejects_truncated_and_oversized() {
        let dir = tempfile::tempdir().unwrap();
        let h = headers("multipart/form-data; boundary=B");
        let truncated = "--B\r\nContent-Disposition: form-data; name=\"bits\"\r\n\r\nabc";
        assert!(
            read(&h, Body::from(truncated), "bits", dir.path(), 10)
                .await
                .is_err()
        );
        let big =
            "--B\r\nContent-Disposition: form-data; name=\"bits\"\r\n\r\n0123456789ABC\r\n--B--";
        assert!(
            read(&h, Body::from(big), "bits", dir.path(), 10)
                .await
                .is_err()
        );
        assert!(
            read(
                &headers("application/json"),
                Body::from("{}"),
                "bits",
                dir.path(),
                10
            )
            .await
            .is_err()
        );
    }
}
