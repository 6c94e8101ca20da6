//! The release phase: the final buildpack's `bin/release` names default process types, and the
//! app's `Procfile` overrides or adds to them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value;

use super::BuilderError;
use super::buildpack::{Buildpack, Scripts};

pub(super) type ProcessTypes = BTreeMap<String, String>;

/// The app's process types: `bin/release`'s `default_process_types`, then the Procfile's.
pub(super) fn process_types(
    scripts: &Scripts,
    buildpack: &Buildpack,
    build_dir: &Path,
) -> Result<ProcessTypes, BuilderError> {
    let output = scripts
        .capture(buildpack, "release", &[build_dir.as_os_str()])
        .map_err(BuilderError::Release)?;
    let mut types = parse_release(&output).map_err(|err| {
        BuilderError::Release(format!("buildpack's release output invalid: {err}"))
    })?;
    types.extend(read_procfile(&build_dir.join("Procfile"))?);
    Ok(types)
}

fn parse_release(yaml: &str) -> Result<ProcessTypes, String> {
    match serde_yaml_ng::from_str::<Value>(yaml).map_err(|err| err.to_string())? {
        Value::Null => Ok(ProcessTypes::new()),
        Value::Mapping(release) => match release.get("default_process_types") {
            None | Some(Value::Null) => Ok(ProcessTypes::new()),
            Some(types) => string_map(types),
        },
        _ => Err("not a YAML mapping".into()),
    }
}

/// A Procfile is optional; one that is not `type: command` YAML fails staging.
fn read_procfile(path: &Path) -> Result<ProcessTypes, BuilderError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(ProcessTypes::new()),
        Err(err) => return Err(BuilderError::Staging(format!("reading Procfile: {err}"))),
    };
    let invalid = |err: String| BuilderError::Staging(format!("Procfile is invalid YAML: {err}"));
    match serde_yaml_ng::from_str::<Value>(&text).map_err(|err| invalid(err.to_string()))? {
        Value::Null => Ok(ProcessTypes::new()),
        types => string_map(&types).map_err(invalid),
    }
}

/// A mapping of process type to command. Scalars become their text and null an empty command,
/// as Go's YAML decoding into a string map does.
fn string_map(value: &Value) -> Result<ProcessTypes, String> {
    let Value::Mapping(map) = value else {
        return Err("process types are not a mapping".into());
    };
    map.iter()
        .map(|(name, command)| Ok((scalar(name)?, scalar(command)?)))
        .collect()
}

fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("expected a string, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(pairs: &[(&str, &str)]) -> ProcessTypes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_default_process_types_in_the_forms_buildpacks_print() {
        let block = "---\naddons: []\nconfig_vars: {}\ndefault_process_types:\n  web: bundle exec rackup -p $PORT\n  worker: \"rake jobs:work\"\n";
        assert_eq!(
            parse_release(block).unwrap(),
            types(&[
                ("web", "bundle exec rackup -p $PORT"),
                ("worker", "rake jobs:work")
            ])
        );
        let flow = "default_process_types: {web: ./app}";
        assert_eq!(parse_release(flow).unwrap(), types(&[("web", "./app")]));
        assert_eq!(parse_release("").unwrap(), ProcessTypes::new());
        assert_eq!(parse_release("---\n{}\n").unwrap(), ProcessTypes::new());
        assert_eq!(
            parse_release("default_process_types:\n  web:\n").unwrap(),
            types(&[("web", "")])
        );
    }

    #[test]
    fn rejects_what_is_not_release_yaml() {
        assert!(parse_release("just some text").is_err());
        assert!(parse_release("default_process_types: [web]").is_err());
        assert!(parse_release("default_process_types: {web: [a, b]}").is_err());
        assert!(parse_release("web: {").is_err());
    }
}
