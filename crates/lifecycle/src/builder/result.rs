//! The staging result (`--output-metadata`) and the buildpack metadata it carries.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The staging result, shaped as Cloud Foundry's builder writes it; the stager hands it to the
/// Cloud Controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingResult {
    /// Always `buildpack`.
    pub lifecycle_type: String,
    pub lifecycle_metadata: LifecycleMetadata,
    /// Start command per process type: the release's defaults overridden by the Procfile.
    pub process_types: BTreeMap<String, String>,
    /// Always empty for buildpack staging; the Cloud Controller expects the field.
    pub execution_metadata: String,
    /// `web`'s start command (empty when neither the buildpack nor a Procfile gave one).
    pub detected_start_command: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleMetadata {
    /// The name of the buildpack that finalized the app (see [`BuildpackMetadata::name`]).
    pub detected_buildpack: String,
    /// The key of the buildpack that finalized the app.
    pub buildpack_key: String,
    /// Every buildpack used, in the order they ran.
    pub buildpacks: Vec<BuildpackMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildpackMetadata {
    pub key: String,
    /// The name the buildpack wrote to `deps/<idx>/config.yml`, else its detect output.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What a buildpack says about itself in `<deps>/<idx>/config.yml`.
#[derive(Default, Deserialize)]
struct BuildpackConfig {
    #[serde(default)]
    name: String,
    version: Option<String>,
}

impl BuildpackMetadata {
    /// Reads the buildpack's `config.yml` from its deps dir. Like Cloud Foundry, a missing or
    /// unreadable file just leaves name and version empty.
    pub(super) fn read(key: &str, deps_dir: &Path) -> Self {
        let config: BuildpackConfig = std::fs::read(deps_dir.join("config.yml"))
            .ok()
            .and_then(|bytes| serde_yaml_ng::from_slice(&bytes).ok())
            .unwrap_or_default();
        BuildpackMetadata {
            key: key.to_owned(),
            name: config.name,
            version: config.version.filter(|v| !v.is_empty()),
        }
    }
}

impl StagingResult {
    /// The result for `buildpacks` (in order, the last one finalized) and the process types.
    pub(super) fn new(
        buildpacks: Vec<BuildpackMetadata>,
        process_types: BTreeMap<String, String>,
    ) -> Self {
        let last = buildpacks.last();
        let web = process_types.get("web").cloned().unwrap_or_default();
        StagingResult {
            lifecycle_type: "buildpack".into(),
            lifecycle_metadata: LifecycleMetadata {
                detected_buildpack: last.map(|bp| bp.name.clone()).unwrap_or_default(),
                buildpack_key: last.map(|bp| bp.key.clone()).unwrap_or_default(),
                buildpacks,
            },
            process_types,
            execution_metadata: String::new(),
            detected_start_command: BTreeMap::from([("web".to_owned(), web)]),
        }
    }

    /// The start command of the `web` process, empty if none was found.
    pub fn web_command(&self) -> &str {
        self.process_types.get("web").map_or("", String::as_str)
    }
}
