//! Cloud Controller's rules for staging: which buildpacks a build uses, how buildpack
//! positions shift, what a staging task's result and failure mean.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    Build, Buildpack, BuildpackState, Droplet, DropletBuildpack, Package, Stack, listable,
};

/// CC's `staging.minimum_staging_memory_mb` / `minimum_staging_disk_mb`.
pub const STAGING_MEMORY_MB: u64 = 1024;
pub const STAGING_DISK_MB: u64 = 4096;
/// The stack apps get when they name none.
pub const DEFAULT_STACK: &str = "cflinuxfs4";

listable!(Package { labels });
listable!(Build { labels });
listable!(Droplet { labels });
listable!(Stack { name, labels });
listable!(Buildpack {
    name,
    labels,
    position
});

/// The buildpacks a build on `stack` runs, in order: the app's named ones (each must exist,
/// be enabled and fit the stack), or every ready, enabled buildpack for the stack by position
/// (detection). `all` must be sorted by position.
pub fn staging_buildpacks(
    named: &[String],
    all: &[Buildpack],
    stack: &str,
) -> Result<Vec<Buildpack>, String> {
    let fits = |b: &Buildpack| b.stack.as_deref().is_none_or(|s| s == stack);
    let usable = |b: &&Buildpack| b.enabled && b.state == BuildpackState::Ready && fits(b);
    if named.is_empty() {
        return Ok(all.iter().filter(usable).cloned().collect());
    }
    named
        .iter()
        .map(|name| {
            all.iter()
                .filter(|b| &b.name == name)
                .find(usable)
                .cloned()
                .ok_or_else(|| {
                    if all.iter().any(|b| &b.name == name && b.enabled && fits(b)) {
                        format!("Buildpack \"{name}\" has no bits uploaded")
                    } else if all.iter().any(|b| &b.name == name) {
                        format!("Buildpack \"{name}\" is disabled or does not support stack \"{stack}\"")
                    } else {
                        format!(
                            "Buildpack \"{name}\" must be an existing admin buildpack or a valid git URI"
                        )
                    }
                })
        })
        .collect()
}

/// Moves `guid` to `position` (1-based, clamped to the list) among buildpacks sorted by
/// position and renumbers them 1..n, as CC shifts the others. Returns the ones whose
/// position changed.
pub fn reposition(sorted: &[Buildpack], guid: &str, position: u32) -> Vec<Buildpack> {
    let mut order: Vec<&Buildpack> = sorted.iter().filter(|b| b.guid != guid).collect();
    if let Some(moved) = sorted.iter().find(|b| b.guid == guid) {
        let at = (position.max(1) as usize - 1).min(order.len());
        order.insert(at, moved);
    }
    order
        .into_iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let want = i as u32 + 1;
            (b.position != want).then(|| Buildpack {
                position: want,
                ..b.clone()
            })
        })
        .collect()
}

/// What the builder writes to its result file (CF's staging result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StagingResult {
    pub lifecycle_metadata: LifecycleMetadata,
    pub process_types: BTreeMap<String, String>,
    pub execution_metadata: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LifecycleMetadata {
    pub detected_buildpack: String,
    pub buildpack_key: String,
    pub buildpacks: Vec<ResultBuildpack>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ResultBuildpack {
    pub key: String,
    pub name: String,
    pub version: String,
}

impl StagingResult {
    /// The droplet's buildpacks: each used buildpack by its key (the admin buildpack name),
    /// with the name and version it reported; the detected one carries the detect output.
    pub fn droplet_buildpacks(&self) -> Vec<DropletBuildpack> {
        let meta = &self.lifecycle_metadata;
        meta.buildpacks
            .iter()
            .map(|b| DropletBuildpack {
                name: b.key.clone(),
                buildpack_name: (!b.name.is_empty()).then(|| b.name.clone()),
                detect_output: (b.key == meta.buildpack_key && !meta.detected_buildpack.is_empty())
                    .then(|| meta.detected_buildpack.clone()),
                version: (!b.version.is_empty()).then(|| b.version.clone()),
            })
            .collect()
    }
}

/// A failed staging task's reason as CC words a build's error: "<Id> - <message>".
pub fn staging_error(failure_reason: &str) -> String {
    // The cell words it "<log source>: Exited with status N".
    let status = failure_reason
        .rsplit_once("Exited with status ")
        .and_then(|(_, s)| s.trim().parse::<i32>().ok());
    let (id, message) = match status {
        Some(222) => (
            "NoAppDetectedError",
            "An app was not successfully detected by any available buildpack",
        ),
        Some(223) => (
            "BuildpackCompileFailed",
            "App staging failed in the buildpack compile phase",
        ),
        Some(224) => (
            "BuildpackReleaseFailed",
            "App staging failed in the buildpack release phase",
        ),
        _ if failure_reason.contains("found no compatible cell") => {
            ("NoCompatibleCell", "Found no compatible cell")
        }
        _ if failure_reason.contains("insufficient resources") => {
            ("InsufficientResources", "Insufficient resources")
        }
        _ if failure_reason.contains("timed out") || failure_reason.contains("time expired") => {
            ("StagingTimeExpired", "Staging time expired")
        }
        _ => ("StagingError", "Staging error: staging failed"),
    };
    format!("{id} - {message}")
}

/// The error of a build whose task ran past the staging timeout.
pub fn staging_timeout_error() -> String {
    "StagingTimeExpired - Staging time expired".into()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::Metadata;

    fn bp(name: &str, position: u32, stack: Option<&str>, enabled: bool) -> Buildpack {
        Buildpack {
            guid: format!("g-{name}"),
            name: name.into(),
            stack: stack.map(Into::into),
            position,
            enabled,
            locked: false,
            state: BuildpackState::Ready,
            filename: None,
            sha256: Some("x".into()),
            metadata: Metadata::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn names(v: &[Buildpack]) -> Vec<(&str, u32)> {
        v.iter().map(|b| (b.name.as_str(), b.position)).collect()
    }

    #[test]
    fn detection_uses_enabled_buildpacks_of_the_stack() {
        let all = vec![
            bp("a", 1, None, true),
            bp("b", 2, Some("other"), true),
            bp("c", 3, Some("cflinuxfs4"), true),
            bp("d", 4, None, false),
        ];
        let got = staging_buildpacks(&[], &all, "cflinuxfs4").unwrap();
        assert_eq!(names(&got), vec![("a", 1), ("c", 3)]);
        let got = staging_buildpacks(&["c".into(), "a".into()], &all, "cflinuxfs4").unwrap();
        assert_eq!(names(&got), vec![("c", 3), ("a", 1)]);
        for bad in ["b", "d", "nope"] {
            assert!(
                staging_buildpacks(&[bad.into()], &all, "cflinuxfs4").is_err(),
                "{bad}"
            );
        }
        assert!(
            staging_buildpacks(&["nope".into()], &all, "cflinuxfs4")
                .unwrap_err()
                .contains("must be an existing admin buildpack or a valid git URI")
        );
    }

    #[test]
    fn repositioning_shifts_the_others() {
        let all = vec![
            bp("a", 1, None, true),
            bp("b", 2, None, true),
            bp("c", 3, None, true),
        ];
        assert_eq!(
            names(&reposition(&all, "g-c", 1)),
            vec![("c", 1), ("a", 2), ("b", 3)]
        );
        assert_eq!(
            names(&reposition(&all, "g-a", 99)),
            vec![("b", 1), ("c", 2), ("a", 3)]
        );
        assert!(reposition(&all, "g-b", 2).is_empty());
        // A new buildpack (already in the list, at the end) inserted at 2.
        let mut with_new = all.clone();
        with_new.push(bp("n", 4, None, true));
        assert_eq!(
            names(&reposition(&with_new, "g-n", 2)),
            vec![("n", 2), ("b", 3), ("c", 4)]
        );
    }

    #[test]
    fn failure_reasons() {
        assert_eq!(
            staging_error("STG: Exited with status 222"),
            "NoAppDetectedError - An app was not successfully detected by any available buildpack"
        );
        assert_eq!(
            staging_error("Exited with status 223"),
            "BuildpackCompileFailed - App staging failed in the buildpack compile phase"
        );
        assert!(staging_error("Exited with status 224").starts_with("BuildpackReleaseFailed - "));
        assert!(staging_error("Exited with status 1").starts_with("StagingError - "));
        assert!(staging_error("boom").starts_with("StagingError - "));
        assert_eq!(
            staging_error("found no compatible cell for required rootfs"),
            "NoCompatibleCell - Found no compatible cell"
        );
    }

    #[test]
    fn result_file() {
        let raw = r#"{"lifecycle_metadata":{"detected_buildpack":"staticfile 1.0","buildpack_key":"staticfile_buildpack","buildpacks":[{"key":"staticfile_buildpack","name":"staticfile","version":"1.0"}]},"process_types":{"web":"./run"},"execution_metadata":""}"#;
        let r: StagingResult = serde_json::from_str(raw).unwrap();
        assert_eq!(r.process_types["web"], "./run");
        assert_eq!(
            r.droplet_buildpacks(),
            vec![DropletBuildpack {
                name: "staticfile_buildpack".into(),
                buildpack_name: Some("staticfile".into()),
                detect_output: Some("staticfile 1.0".into()),
                version: Some("1.0".into()),
            }]
        );
    }
}
