//! Running the host tools the backend drives (the OCI runtime, `ip`, `nft`) to completion.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::Error;

/// Runs `command` with `input` on its stdin (or none), and returns its stdout. A failure
/// says `what` was being done and carries the tool's own message.
pub(crate) async fn run(
    mut command: Command,
    input: Option<&str>,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(what, e))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(|e| Error::io(what, e))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| Error::io(what, e))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(Error::Io {
            message: format!("{what}: {}", String::from_utf8_lossy(&output.stderr).trim()),
        })
    }
}
