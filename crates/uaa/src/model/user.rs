//! Users as SCIM sees them, and the validation of what clients may write.

use chrono::{DateTime, Utc};

use super::{GroupRef, MAX_LEN, UAA_ORIGIN};

/// A stored user (never with the password hash: that stays in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub id: String,
    pub username: String,
    pub origin: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub verified: bool,
    pub version: i64,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub password_last_modified: Option<DateTime<Utc>>,
    pub last_logon: Option<DateTime<Utc>>,
    pub previous_logon: Option<DateTime<Utc>>,
    /// Direct group memberships, i.e. the user's scopes.
    pub groups: Vec<GroupRef>,
}

impl User {
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.display.clone()).collect()
    }
}

/// What a client asked to write, before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserDraft {
    pub username: Option<String>,
    pub origin: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: Option<bool>,
    pub verified: Option<bool>,
}

/// The writable fields of a user, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserFields {
    pub username: String,
    pub origin: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub verified: bool,
}

impl UserDraft {
    /// Checks every field and reports all problems at once.
    pub fn validate(self) -> Result<UserFields, Vec<String>> {
        let mut problems = Vec::new();
        let username = self.username.unwrap_or_default();
        if username.trim().is_empty() {
            problems.push("A username must be provided.".to_owned());
        } else if username.chars().count() > MAX_LEN {
            problems.push(format!("userName must be at most {MAX_LEN} characters."));
        }
        // The cf CLI sends `"origin": ""` for UAA users.
        let origin = match self.origin.as_deref().map(str::trim) {
            None | Some("") => UAA_ORIGIN.to_owned(),
            Some(origin) => origin.to_owned(),
        };
        if origin.chars().count() > MAX_LEN {
            problems.push(format!("origin must be at most {MAX_LEN} characters."));
        }
        let email = self.email.unwrap_or_default();
        if email.trim().is_empty() {
            problems.push("An email must be provided.".to_owned());
        } else if email.chars().count() > MAX_LEN {
            problems.push(format!("email must be at most {MAX_LEN} characters."));
        }
        for (field, value) in [
            ("givenName", &self.given_name),
            ("familyName", &self.family_name),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > MAX_LEN) {
                problems.push(format!("{field} must be at most {MAX_LEN} characters."));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(UserFields {
            username,
            origin,
            email: email.trim().to_owned(),
            given_name: self.given_name,
            family_name: self.family_name,
            active: self.active.unwrap_or(true),
            verified: self.verified.unwrap_or(true),
        })
    }
}

/// UAA's default password policy: at least one character, at most 255.
pub(crate) fn check_password(password: Option<&str>) -> Result<&str, String> {
    match password {
        None | Some("") => Err("Password must be at least 1 characters in length.".to_owned()),
        Some(p) if p.chars().count() > MAX_LEN => Err(format!(
            "Password must be no more than {MAX_LEN} characters in length."
        )),
        Some(p) => Ok(p),
    }
}

/// The case-insensitive key that makes a user name unique within its origin.
pub(crate) fn username_key(username: &str) -> String {
    username.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(username: &str) -> UserDraft {
        UserDraft {
            username: Some(username.into()),
            origin: Some(String::new()),
            email: Some(username.into()),
            ..UserDraft::default()
        }
    }

    #[test]
    fn empty_origin_means_uaa() {
        let fields = draft("bob").validate().expect("valid");
        assert_eq!(fields.origin, "uaa");
        assert!(fields.active && fields.verified);
    }

    #[test]
    fn collects_every_problem() {
        let problems = UserDraft {
            username: Some("x".repeat(256)),
            given_name: Some("y".repeat(300)),
            ..UserDraft::default()
        }
        .validate()
        .expect_err("invalid");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn password_policy() {
        assert!(check_password(None).is_err());
        assert!(check_password(Some("")).is_err());
        assert!(check_password(Some(&"p".repeat(256))).is_err());
        assert_eq!(check_password(Some("secret")), Ok("secret"));
    }
}
