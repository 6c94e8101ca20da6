//! Collecting every bad field into one error, and the transition error.

use super::{Action, SecurityGroupRule};
use crate::error::{Error, FieldError};

/// The largest annotation a DesiredLRP or task may carry.
const MAX_ANNOTATION_BYTES: usize = 10 * 1024;

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

    /// A record's guid: required, and usable as one URL path segment.
    pub fn guid(&mut self, value: &str, field: &str) -> &mut Self {
        self.require(value, field);
        self.check(!value.contains('/'), field, "must not contain '/'")
    }

    /// `root_fs`: required, `preloaded:<stack>` or `<scheme>://<image>`.
    pub fn root_fs(&mut self, root_fs: &str) -> &mut Self {
        self.require(root_fs, "root_fs");
        self.check(
            root_fs.is_empty() || rootfs_url_ok(root_fs),
            "root_fs",
            "must be preloaded:<stack> or <scheme>://<image>",
        )
    }

    /// `action`: required, and valid itself.
    pub fn action(&mut self, action: Option<&Action>) -> &mut Self {
        match action {
            None => self.check(false, "action", "is required"),
            Some(action) => self.nested("action", action.validation_errors()),
        }
    }

    pub fn cpu_weight(&mut self, cpu_weight: u32) -> &mut Self {
        self.check(cpu_weight <= 100, "cpu_weight", "must be at most 100")
    }

    pub fn annotation(&mut self, annotation: &str) -> &mut Self {
        self.check(
            annotation.len() <= MAX_ANNOTATION_BYTES,
            "annotation",
            "must be at most 10 KiB",
        )
    }

    /// `egress_rules`: each rule valid itself.
    pub fn egress_rules(&mut self, rules: &[SecurityGroupRule]) -> &mut Self {
        for (i, rule) in rules.iter().enumerate() {
            self.nested(&format!("egress_rules[{i}]"), rule.validation_errors());
        }
        self
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

fn rootfs_url_ok(root_fs: &str) -> bool {
    match root_fs.split_once(':') {
        Some(("preloaded", stack)) => !stack.is_empty(),
        Some((scheme, rest)) => !scheme.is_empty() && rest.starts_with("//"),
        None => false,
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
