/// Why staging failed. The exit codes are the ones Cloud Foundry's stager maps to
/// NoAppDetectedError, BuildpackCompileFailed and BuildpackReleaseFailed.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    /// No buildpack's `bin/detect` accepted the app.
    #[error("An app was not successfully detected by any available buildpack")]
    NoAppDetected,
    /// `bin/supply`, `bin/finalize` or `bin/compile` failed.
    #[error("App staging failed in the buildpack compile phase: {0}")]
    Compile(String),
    /// `bin/release` failed or printed something that is not release YAML.
    #[error("App staging failed in the buildpack release phase: {0}")]
    Release(String),
    /// Anything else: bad arguments, a missing buildpack, file system errors.
    #[error("Staging error: {0}")]
    Staging(String),
}

impl BuilderError {
    /// The builder's exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            BuilderError::NoAppDetected => 222,
            BuilderError::Compile(_) => 223,
            BuilderError::Release(_) => 224,
            BuilderError::Staging(_) => 1,
        }
    }

    /// Wraps an I/O failure while doing `what` as a generic staging error.
    pub(super) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> BuilderError {
        move |err| BuilderError::Staging(format!("{what}: {err}"))
    }

    /// The Cloud Controller's name for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            BuilderError::NoAppDetected => "NoAppDetectedError",
            BuilderError::Compile(_) => "BuildpackCompileFailed",
            BuilderError::Release(_) => "BuildpackReleaseFailed",
            BuilderError::Staging(_) => "StagingError",
        }
    }
}
