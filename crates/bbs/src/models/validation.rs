//! Collecting every bad field into one error, and the transition error.

use crate::error::{Error, FieldError};

/// Gathers field errors; `finish` turns them into one `Error::Validation`.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.errors.push(FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            });
        }
        self
    }

    pub fn require(&mut self, value: &str, field: &str) -> &mut Self {
        self.check(!value.trim().is_empty(), field, "is required")
    }

    /// Adds errors found in a nested value, prefixing their field names.
    pub fn nested(&mut self, prefix: &str, errors: Vec<FieldError>) -> &mut Self {
        self.errors.extend(errors.into_iter().map(|e| FieldError {
            field: format!("{prefix}.{}", e.field),
            message: e.message,
        }));
        self
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation {
                errors: self.errors,
            })
        }
    }
}

/// A state-machine event that the record's current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} from {from}")]
pub struct InvalidTransition {
    pub from: String,
    pub event: String,
}

impl InvalidTransition {
    pub fn new(from: impl std::fmt::Display, event: impl std::fmt::Display) -> Self {
        Self {
            from: from.to_string(),
            event: event.to_string(),
        }
    }
}
