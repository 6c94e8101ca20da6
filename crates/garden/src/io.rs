//! How a caller connects to a process's standard streams.

use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// A byte stream handed to or from Garden (process stdin, tar archives).
pub type ByteStream = Box<dyn AsyncRead + Send + Unpin>;

/// A tar archive streamed into or out of a container.
pub type TarStream = ByteStream;

/// A chunk of process output, in the order the process wrote it.
pub type OutputChunk = Vec<u8>;

/// Where a process's streams go. Garden sends output chunks to the senders and closes them
/// (drops the senders) once the process has exited and its output is drained. A `None`
/// sender discards that stream; a `None` stdin gives the process an empty stdin.
#[derive(Default)]
pub struct ProcessIo {
    pub stdin: Option<ByteStream>,
    pub stdout: Option<mpsc::Sender<OutputChunk>>,
    pub stderr: Option<mpsc::Sender<OutputChunk>>,
}

/// The receiving ends made by [`ProcessIo::capture`].
pub struct CapturedOutput {
    pub stdout: mpsc::Receiver<OutputChunk>,
    pub stderr: mpsc::Receiver<OutputChunk>,
}

impl ProcessIo {
    /// A `ProcessIo` that captures stdout and stderr into channels, with no stdin.
    pub fn capture() -> (Self, CapturedOutput) {
        let (out_tx, out_rx) = mpsc::channel(64);
        let (err_tx, err_rx) = mpsc::channel(64);
        let io = Self {
            stdin: None,
            stdout: Some(out_tx),
            stderr: Some(err_tx),
        };
        (
            io,
            CapturedOutput {
                stdout: out_rx,
                stderr: err_rx,
            },
        )
    }

    /// Adds a stdin stream.
    pub fn with_stdin(mut self, stdin: ByteStream) -> Self {
        self.stdin = Some(stdin);
        self
    }
}

/// Reads a stream of chunks until the sender closes it.
pub async fn collect(rx: &mut mpsc::Receiver<OutputChunk>) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(chunk) = rx.recv().await {
        all.extend_from_slice(&chunk);
    }
    all
}

impl std::fmt::Debug for ProcessIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessIo")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}
