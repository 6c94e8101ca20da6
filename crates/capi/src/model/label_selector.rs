//! `label_selector` parsing and matching, as CC implements it (a comma means AND).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Exists(String),
    NotExists(String),
    Equal(String, String),
    NotEqual(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, ()> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(());
                }
            }
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(());
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
    values.iter().all(|v| valid_value(v)).then_some(values)
}

fn parse_requirement(raw: &str) -> Option<Requirement> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(key) = s.strip_prefix('!') {
        let key = key.trim();
        return valid_key(key).then(|| Requirement::NotExists(key.to_owned()));
    }
    for (op, not) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = s.split_once(op) {
            let (key, value) = (key.trim(), value.trim());
            if !valid_key(key) || !valid_value(value) {
                return None;
            }
            let (key, value) = (key.to_owned(), value.to_owned());
            return Some(if not {
                Requirement::NotEqual(key, value)
            } else {
                Requirement::Equal(key, value)
            });
        }
    }
    if let Some((key, rest)) = s.split_once(" notin ") {
        let key = key.trim();
        return valid_key(key)
            .then(|| parse_set(rest))
            .flatten()
            .map(|values| Requirement::NotIn(key.to_owned(), values));
    }
    if let Some((key, rest)) = s.split_once(" in ") {
        let key = key.trim();
        return valid_key(key)
            .then(|| parse_set(rest))
            .flatten()
            .map(|values| Requirement::In(key.to_owned(), values));
    }
    valid_key(s).then(|| Requirement::Exists(s.to_owned()))
}

impl LabelSelector {
    /// Parses a selector; `None` means it is malformed.
    pub fn parse(s: &str) -> Option<Self> {
        let parts = split_top_level(s).ok()?;
        parts
            .into_iter()
            .map(parse_requirement)
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|req| match req {
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::Equal(k, v) => labels.get(k) == Some(v),
            // CC: a missing key also satisfies != and notin.
            Requirement::NotEqual(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_every_operator() {
        let sel = LabelSelector::parse(
            "env=prod,tier==web,team!=x,size in (s,m),zone notin (a, b),owner,!legacy",
        )
        .expect("parses");
        assert_eq!(
            sel.0,
            vec![
                Requirement::Equal("env".into(), "prod".into()),
                Requirement::Equal("tier".into(), "web".into()),
                Requirement::NotEqual("team".into(), "x".into()),
                Requirement::In("size".into(), vec!["s".into(), "m".into()]),
                Requirement::NotIn("zone".into(), vec!["a".into(), "b".into()]),
                Requirement::Exists("owner".into()),
                Requirement::NotExists("legacy".into()),
            ]
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "env=", "a in (b", "a in b", "=x", "a,,b", "a b"] {
            let parsed = LabelSelector::parse(bad);
            // "env=" selects the empty value, which CC allows.
            if bad == "env=" {
                assert!(parsed.is_some());
            } else {
                assert!(parsed.is_none(), "{bad:?} should be rejected");
            }
        }
    }

    #[test]
    fn matching() {
        let l = labels(&[("env", "prod"), ("size", "m"), ("example.com/team", "a")]);
        let yes = [
            "env=prod",
            "env==prod",
            "env!=dev",
            "missing!=x",
            "size in (s,m)",
            "size notin (l)",
            "missing notin (l)",
            "env",
            "!missing",
            "example.com/team=a",
            "env=prod,size=m",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).expect(s).matches(&l), "{s}");
        }
        let no = [
            "env=dev",
            "env!=prod",
            "size in (l)",
            "size notin (m)",
            "missing",
            "!env",
            "env=prod,size=l",
            "missing in (x)",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).expect(s).matches(&l), "{s}");
        }
    }
}
