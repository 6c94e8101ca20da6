//! Reading request bodies field by field, collecting every problem into one 422.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::MetadataPatch;
use crate::Error;

pub const MAX_NAME_LENGTH: usize = 255;

/// Walks a JSON object. Each accessor records problems instead of failing, and `finish`
/// reports them all at once, together with any unknown fields.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    known: Vec<&'static str>,
    errors: Vec<String>,
}

/// CC's humanised field names: `custom_error_message` → `Custom error message`.
pub fn humanize(field: &str) -> String {
    let spaced = field.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

impl<'a> Fields<'a> {
    /// A body must be a JSON object; anything else cannot be read at all.
    pub fn of(body: &'a Value) -> Result<Self, Error> {
        match body {
            Value::Object(obj) => Ok(Self {
                obj,
                known: Vec::new(),
                errors: Vec::new(),
            }),
            _ => Err(Error::MessageParse("invalid request body".into())),
        }
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.errors.push(msg.into());
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.obj.get(key)
    }

    /// The field as it came, marked known; for shapes the typed accessors do not cover.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    /// A resource name: a string of 1 to 255 characters.
    pub fn name(&mut self, required: bool) -> Option<String> {
        let name = self.string("name", required)?;
        if name.trim().is_empty() {
            self.error("Name can't be blank");
            return None;
        }
        if name.chars().count() > MAX_NAME_LENGTH {
            self.error(format!(
                "Name is too long (maximum is {MAX_NAME_LENGTH} characters)"
            ));
            return None;
        }
        Some(name)
    }

    pub fn string(&mut self, key: &'static str, required: bool) -> Option<String> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => {
                if required {
                    self.error(format!("{} can't be blank", humanize(key)));
                }
                None
            }
            Some(_) => {
                self.error(format!("{} must be a string", humanize(key)));
                None
            }
        }
    }

    /// An optional string that may be explicitly null: outer None = absent.
    pub fn nullable_string(&mut self, key: &'static str) -> Option<Option<String>> {
        match self.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.error(format!("{} must be a string", humanize(key)));
                None
            }
        }
    }

    pub fn boolean(&mut self, key: &'static str, required: bool) -> Option<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            None => {
                if required {
                    self.error(format!("{} must be a boolean", humanize(key)));
                }
                None
            }
            Some(_) => {
                self.error(format!("{} must be a boolean", humanize(key)));
                None
            }
        }
    }

    /// A whole number (CC: "is not a number" / "must be an integer").
    pub fn integer(&mut self, key: &'static str, required: bool) -> Option<i64> {
        match self.get(key) {
            Some(Value::Number(n)) => {
                let int = n.as_i64();
                if int.is_none() {
                    self.error(format!("{} must be an integer", humanize(key)));
                }
                int
            }
            None | Some(Value::Null) => {
                if required {
                    self.error(format!("{} can't be blank", humanize(key)));
                }
                None
            }
            Some(_) => {
                self.error(format!("{} is not a number", humanize(key)));
                None
            }
        }
    }

    /// A nested object, read with its own `Fields`; its problems join ours.
    pub fn object<T>(
        &mut self,
        key: &'static str,
        required: bool,
        read: impl FnOnce(&mut Fields<'a>) -> Option<T>,
    ) -> Option<T> {
        match self.get(key) {
            Some(Value::Object(obj)) => {
                let mut inner = Fields {
                    obj,
                    known: Vec::new(),
                    errors: Vec::new(),
                };
                let out = read(&mut inner);
                let unknown = inner.unknown();
                self.errors.append(&mut inner.errors);
                if let Some(u) = unknown {
                    self.errors.push(u);
                }
                out
            }
            None | Some(Value::Null) => {
                if required {
                    self.error(format!("{} can't be blank", humanize(key)));
                }
                None
            }
            Some(_) => {
                self.error(format!("{} must be an object", humanize(key)));
                None
            }
        }
    }

    /// `relationships.<key>.data.guid`, as a required to-one relationship.
    pub fn relationship_guid(&mut self, key: &'static str, required: bool) -> Option<String> {
        self.object(key, required, |rel| {
            rel.object("data", true, |data| data.string("guid", true))
        })
    }

    /// `metadata: {labels: {k: v|null}, annotations: {k: v|null}}`, syntax-checked.
    pub fn metadata(&mut self) -> Option<MetadataPatch> {
        let patch = self.object("metadata", false, |m| {
            let labels = m.string_map("labels");
            let annotations = m.string_map("annotations");
            Some(MetadataPatch {
                labels,
                annotations,
            })
        })?;
        let problems = patch.problems();
        if problems.is_empty() {
            Some(patch)
        } else {
            self.errors.extend(problems);
            None
        }
    }

    fn string_map(&mut self, key: &'static str) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        match self.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), Some(s.clone()));
                        }
                        Value::Null => {
                            out.insert(k.clone(), None);
                        }
                        _ => self.error(format!(
                            "Metadata {} values must be strings or null",
                            key.trim_end_matches('s')
                        )),
                    }
                }
            }
            Some(_) => self.error(format!("Metadata {key} must be an object")),
        }
        out
    }

    fn unknown(&self) -> Option<String> {
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .map(|k| format!("'{k}'"))
            .collect();
        (!unknown.is_empty()).then(|| format!("Unknown field(s): {}", unknown.join(", ")))
    }

    /// Every problem found, or Ok when there were none.
    pub fn finish(mut self) -> Result<(), Error> {
        if let Some(u) = self.unknown() {
            self.errors.push(u);
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn collects_every_problem() {
        let body = json!({"name": "x".repeat(256), "foo": 1, "suspended": "yes"});
        let mut f = Fields::of(&body).expect("object");
        let _ = f.name(true);
        let _ = f.boolean("suspended", false);
        let _ = f.metadata();
        let err = f.finish().expect_err("invalid");
        assert_eq!(
            err,
            Error::Validation(vec![
                "Name is too long (maximum is 255 characters)".into(),
                "Suspended must be a boolean".into(),
                "Unknown field(s): 'foo'".into(),
            ])
        );
        assert_eq!(
            err.to_string(),
            "Name is too long (maximum is 255 characters), Suspended must be a boolean, Unknown field(s): 'foo'"
        );
    }

    #[test]
    fn missing_and_wrong_types() {
        let body = json!({"relationships": {"organization": {"data": {"guid": 5}}}});
        let mut f = Fields::of(&body).expect("object");
        let _ = f.name(true);
        let _ = f.object("relationships", true, |r| {
            r.relationship_guid("organization", true)
        });
        let err = f.finish().expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "Name can't be blank, Guid must be a string"
        );
    }

    #[test]
    fn metadata_patch_and_label_errors() {
        let body = json!({"metadata": {"labels": {"env": "prod", "gone": null}, "annotations": {"a": "b"}}});
        let mut f = Fields::of(&body).expect("object");
        let patch = f.metadata().expect("valid");
        f.finish().expect("no problems");
        assert_eq!(patch.labels["env"], Some("prod".into()));
        assert_eq!(patch.labels["gone"], None);
        let body = json!({"metadata": {"labels": {"-bad": "x y"}, "extra": 1}});
        let mut f = Fields::of(&body).expect("object");
        assert!(f.metadata().is_none());
        let msg = f.finish().expect_err("invalid").to_string();
        assert!(msg.contains("Unknown field(s): 'extra'"), "{msg}");
        assert!(msg.contains("Metadata label key '-bad'"), "{msg}");
        assert!(msg.contains("Metadata label value 'x y'"), "{msg}");
    }

    #[test]
    fn non_objects_are_parse_errors() {
        assert!(matches!(
            Fields::of(&json!([1])),
            Err(Error::MessageParse(_))
        ));
    }
}
