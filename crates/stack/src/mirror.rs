//! Which Debian mirror to build from when none is given: the one the host's own apt uses.
//!
//! Only the host's configuration is consulted, so a build never reaches a server the machine's
//! owner did not choose.

use std::path::{Path, PathBuf};

use crate::Error;

/// The first `deb` source for the host's Debian suite (its `VERSION_CODENAME`) in the host's apt
/// configuration, read in apt's order: `/etc/apt/sources.list`, then `/etc/apt/sources.list.d`'s
/// `*.list` (one-line) and `*.sources` (deb822) files by name.
pub fn host_mirror() -> Result<String, Error> {
    mirror_under(Path::new("/"))
}

/// [`host_mirror`] for the system whose root is `root`.
fn mirror_under(root: &Path) -> Result<String, Error> {
    let os_release = std::fs::read_to_string(root.join("etc/os-release")).unwrap_or_default();
    let suite = debian_codename(&os_release).ok_or_else(|| {
        Error::NoMirror(
            "the host is not Debian (no debian VERSION_CODENAME in /etc/os-release)".into(),
        )
    })?;
    source_files(&root.join("etc/apt"))
        .iter()
        .find_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            if path.extension().is_some_and(|ext| ext == "sources") {
                deb822_mirror(&text, &suite)
            } else {
                one_line_mirror(&text, &suite)
            }
        })
        .ok_or_else(|| {
            Error::NoMirror(format!(
                "no `deb` source for {suite} in {}",
                root.join("etc/apt").display()
            ))
        })
}

/// `VERSION_CODENAME` when `ID` is `debian`: another distribution's mirror has no Debian suites.
fn debian_codename(os_release: &str) -> Option<String> {
    let value = |key: &str| {
        os_release.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
    };
    (value("ID")? == "debian")
        .then(|| value("VERSION_CODENAME"))
        .flatten()
        .filter(|codename| !codename.is_empty())
}

/// The files apt reads its sources from, in the order it reads them.
fn source_files(apt_dir: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(apt_dir.join("sources.list.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "list" || ext == "sources")
        })
        .collect();
    parts.sort();
    std::iter::once(apt_dir.join("sources.list"))
        .chain(parts)
        .collect()
}

/// The first URI of a one-line `deb [options] URI SUITE COMPONENT...` entry for `suite`.
pub(crate) fn one_line_mirror(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next()?.trim();
        let mut rest = line.strip_prefix("deb")?;
        if !rest.starts_with(char::is_whitespace) {
            return None; // deb-src, or not a source line at all
        }
        rest = rest.trim_start();
        if let Some(options) = rest.strip_prefix('[') {
            rest = options.split_once(']')?.1;
        }
        let mut words = rest.split_whitespace();
        let (uri, entry_suite) = (words.next()?, words.next()?);
        (entry_suite == suite).then(|| tidy(uri))
    })
}

/// The first URI of a deb822 stanza with `Types: deb` whose `Suites` include `suite`.
pub(crate) fn deb822_mirror(text: &str, suite: &str) -> Option<String> {
    stanzas(text).into_iter().find_map(|fields| {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let has = |name: &str, word: &str| {
            field(name).is_some_and(|value| value.split_whitespace().any(|w| w == word))
        };
        let enabled = field("Enabled")
            .is_none_or(|value| !["no", "false", "off", "0"].contains(&value.trim()));
        (enabled && has("Types", "deb") && has("Suites", suite))
            .then(|| field("URIs")?.split_whitespace().next().map(tidy))
            .flatten()
    })
}

/// deb822 stanzas as (field, value) lists. Comment lines are skipped without ending a stanza;
/// continuation lines (leading blank) extend the previous field's value.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut stanzas = vec![Vec::new()];
    for line in text.lines() {
        let current: &mut Vec<(String, String)> = stanzas.last_mut().expect("never empty");
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !current.is_empty() {
                stanzas.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    stanzas
}

fn tidy(uri: &str) -> String {
    uri.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "\
Types: deb-src
URIs: http://sources.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment inside a stanza does not end it
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb deb-src
URIs: http://mirror.example/debian/
 http://second.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    #[test]
    fn deb822_takes_the_first_enabled_deb_stanza_for_the_suite() {
        assert_eq!(
            deb822_mirror(DEB822, "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(
            deb822_mirror(DEB822, "bookworm-security").as_deref(),
            Some("http://security.example/debian-security")
        );
        assert_eq!(deb822_mirror(DEB822, "trixie"), None);
    }

    #[test]
    fn one_line_skips_comments_sources_and_other_suites() {
        let text = "\
# deb http://commented.example/debian bookworm main
deb-src http://sources.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] https://mirror.example/debian bookworm main contrib # trailing
deb http://later.example/debian bookworm main
";
        assert_eq!(
            one_line_mirror(text, "bookworm").as_deref(),
            Some("https://mirror.example/debian")
        );
        assert_eq!(one_line_mirror(text, "trixie"), None);
        assert_eq!(
            one_line_mirror("debx http://x.example bookworm", "bookworm"),
            None
        );
    }

    #[test]
    fn only_debian_hosts_have_a_suite() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n";
        assert_eq!(debian_codename(debian).as_deref(), Some("bookworm"));
        let other = "ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n";
        assert_eq!(debian_codename(other), None);
        assert_eq!(debian_codename("ID=debian\n"), None);
    }

    /// Writes an /etc with os-release and the given apt source files under a temp root.
    fn host(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/apt/sources.list.d")).unwrap();
        std::fs::write(
            root.path().join("etc/os-release"),
            "ID=debian\nVERSION_CODENAME=bookworm\n",
        )
        .unwrap();
        for (path, text) in files {
            std::fs::write(root.path().join("etc/apt").join(path), text).unwrap();
        }
        root
    }

    #[test]
    fn host_files_are_read_in_apt_order_and_unknown_extensions_ignored() {
        let root = host(&[
            (
                "sources.list.d/b.sources",
                "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\n",
            ),
            (
                "sources.list.d/a.list",
                "deb http://a.example/debian bookworm main\n",
            ),
            (
                "sources.list.d/0.list.disabled",
                "deb http://disabled.example/debian bookworm main\n",
            ),
        ]);
        assert_eq!(
            mirror_under(root.path()).unwrap(),
            "http://a.example/debian"
        );

        std::fs::write(
            root.path().join("etc/apt/sources.list"),
            "deb http://first.example/debian bookworm main\n",
        )
        .unwrap();
        assert_eq!(
            mirror_under(root.path()).unwrap(),
            "http://first.example/debian"
        );
    }

    #[test]
    fn without_a_source_for_the_suite_the_error_asks_for_a_mirror() {
        let root = host(&[(
            "sources.list",
            "deb http://security.example/debian-security bookworm-security main\n",
        )]);
        let err = mirror_under(root.path()).unwrap_err();
        assert!(matches!(err, Error::NoMirror(_)), "{err}");
        assert!(err.to_string().contains("--mirror"), "{err}");
    }
}
