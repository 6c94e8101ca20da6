//! `metadata.labels` and `metadata.annotations`, with CC's key and value syntax rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// A PATCH to metadata: `None` removes the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataPatch {
    pub labels: BTreeMap<String, Option<String>>,
    pub annotations: BTreeMap<String, Option<String>>,
}

impl Metadata {
    pub fn apply(&mut self, patch: &MetadataPatch) {
        merge(&mut self.labels, &patch.labels);
        merge(&mut self.annotations, &patch.annotations);
    }
}

fn merge(into: &mut BTreeMap<String, String>, patch: &BTreeMap<String, Option<String>>) {
    for (key, value) in patch {
        match value {
            Some(v) => {
                into.insert(key.clone(), v.clone());
            }
            None => {
                into.remove(key);
            }
        }
    }
}

const MAX_PREFIX: usize = 253;
const MAX_NAME: usize = 63;
const MAX_LABEL_VALUE: usize = 63;
const MAX_ANNOTATION_VALUE: usize = 5000;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn check_name(kind: &str, key: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{kind} key cannot be empty string"));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "{kind} key '{key}' is greater than {MAX_NAME} characters"
        ));
    }
    let first_last_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !first_last_ok || !name.chars().all(is_name_char) {
        return Err(format!(
            "{kind} key '{key}' must consist of alphanumeric characters, '-', '_' or '.' and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

fn check_prefix(kind: &str, prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_PREFIX {
        return Err(format!(
            "{kind} key prefix '{prefix}' is greater than {MAX_PREFIX} characters"
        ));
    }
    let dns_ok = !prefix.is_empty()
        && prefix.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if !dns_ok {
        return Err(format!(
            "{kind} key prefix '{prefix}' must be in valid DNS format"
        ));
    }
    Ok(())
}

/// Checks a label or annotation key: an optional DNS prefix and `/`, then a name.
pub fn validate_key(kind: &str, key: &str) -> Result<(), String> {
    match key.split_once('/') {
        Some((prefix, name)) => {
            if name.contains('/') {
                return Err(format!("{kind} key '{key}' has more than one '/'"));
            }
            check_prefix(kind, prefix)?;
            check_name(kind, key, name)
        }
        None => check_name(kind, key, key),
    }
}

pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > MAX_LABEL_VALUE {
        return Err(format!(
            "Metadata label value '{value}' is greater than {MAX_LABEL_VALUE} characters"
        ));
    }
    let ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
        && value.chars().all(is_name_char);
    if !ok {
        return Err(format!(
            "Metadata label value '{value}' must consist of alphanumeric characters, '-', '_' or '.' and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

pub fn validate_annotation_value(key: &str, value: &str) -> Result<(), String> {
    if value.chars().count() > MAX_ANNOTATION_VALUE {
        return Err(format!(
            "Metadata annotation value for key '{key}' is greater than {MAX_ANNOTATION_VALUE} characters"
        ));
    }
    Ok(())
}

impl MetadataPatch {
    /// Every syntax problem in the patch, in key order.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, value) in &self.labels {
            if let Err(e) = validate_key("Metadata label", key) {
                out.push(e);
            }
            if let Some(Err(e)) = value.as_deref().map(validate_label_value) {
                out.push(e);
            }
        }
        for (key, value) in &self.annotations {
            if let Err(e) = validate_key("Metadata annotation", key) {
                out.push(e);
            }
            if let Some(Err(e)) = value.as_deref().map(|v| validate_annotation_value(key, v)) {
                out.push(e);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("L", "env").is_ok());
        assert!(validate_key("L", "example.com/env").is_ok());
        assert!(validate_key("L", "a.b-c_d").is_ok());
        assert!(validate_key("L", "-env").is_err());
        assert!(validate_key("L", "env-").is_err());
        assert!(validate_key("L", "").is_err());
        assert!(validate_key("L", &"a".repeat(64)).is_err());
        assert!(validate_key("L", "bad_prefix!/x").is_err());
        assert!(validate_key("L", "a/b/c").is_err());
        assert!(validate_key("L", &format!("{}/x", "a".repeat(254))).is_err());
    }

    #[test]
    fn values() {
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("prod").is_ok());
        assert!(validate_label_value("has space").is_err());
        assert!(validate_label_value(&"v".repeat(64)).is_err());
        assert!(validate_annotation_value("k", &"v".repeat(5000)).is_ok());
        assert!(validate_annotation_value("k", &"v".repeat(5001)).is_err());
    }

    #[test]
    fn apply_removes_null_keys() {
        let mut m = Metadata::default();
        m.labels.insert("a".into(), "1".into());
        m.labels.insert("b".into(), "2".into());
        let mut p = MetadataPatch::default();
        p.labels.insert("a".into(), None);
        p.labels.insert("c".into(), Some("3".into()));
        m.apply(&p);
        assert_eq!(m.labels.keys().collect::<Vec<_>>(), ["b", "c"]);
    }
}
