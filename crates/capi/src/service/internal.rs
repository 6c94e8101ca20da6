//! Signed internal URLs: how cells and the BBS reach the Cloud Controller without a user
//! token (package, buildpack and droplet downloads, droplet and build-cache uploads,
//! completion callbacks).
//!
//! A URL carries `signature` = HMAC-SHA256(internal_secret, "<method>\n<path>\n<expires>")
//! in hex. A URL with `expires=<unix seconds>` is bound to one method and dies then; one
//! without is bound to its path only and never expires (droplet downloads must outlive any
//! LRP, and a task may run for days).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Service;
use crate::{Error, model::Droplet};

/// CC's staging timeout: a staging task running longer has failed.
pub(crate) const STAGING_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How long upload and callback URLs handed to a staging task stay valid: the staging
/// timeout plus room for a task that waits for a cell.
pub(crate) const STAGING_URL_TTL: Duration =
    Duration::from_secs(STAGING_TIMEOUT.as_secs() + 30 * 60);

/// The method and expiry of a URL valid for any method, forever.
const ANY_METHOD: &str = "*";
const NEVER: &str = "never";

fn signature(secret: &str, method: &str, path: &str, expires: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(format!("{method}\n{path}\n{expires}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `path?signature=...` for any method, forever.
pub(crate) fn sign_path(secret: &str, path: &str) -> String {
    format!(
        "{path}?signature={}",
        signature(secret, ANY_METHOD, path, NEVER)
    )
}

/// `path?expires=...&signature=...` for `method` until `expires`.
pub(crate) fn sign_path_until(
    secret: &str,
    method: &str,
    path: &str,
    expires: DateTime<Utc>,
) -> String {
    let expires = expires.timestamp().to_string();
    format!(
        "{path}?expires={expires}&signature={}",
        signature(secret, method, path, &expires)
    )
}

/// Checks a request against its URL's signature: 403 when it is missing, forged, for another
/// path or method, or expired.
pub(crate) fn verify(
    secret: &str,
    method: &str,
    path: &str,
    query: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut expires = None;
    let mut sig = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "expires" => expires = Some(v.into_owned()),
            "signature" => sig = Some(v.into_owned()),
            _ => {}
        }
    }
    let sig = sig.ok_or(Error::NotAuthorized)?;
    let expected = match &expires {
        None => signature(secret, ANY_METHOD, path, NEVER),
        Some(e) => {
            let at = e.parse::<i64>().map_err(|_| Error::NotAuthorized)?;
            if now.timestamp() > at {
                return Err(Error::NotAuthorized);
            }
            signature(secret, method, path, e)
        }
    };
    // Compare in constant time so the signature cannot be guessed byte by byte.
    let same = sig.len() == expected.len()
        && sig
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(Error::NotAuthorized)
    }
}

/// The internal paths, named once for the router and the URL builders.
pub(crate) mod paths {
    pub fn package(guid: &str) -> String {
        format!("/internal/v4/packages/{guid}/download")
    }
    pub fn buildpack(guid: &str) -> String {
        format!("/internal/v4/buildpacks/{guid}/download")
    }
    pub fn droplet(guid: &str) -> String {
        format!("/internal/v4/droplets/{guid}/download")
    }
    pub fn droplet_upload(guid: &str) -> String {
        format!("/internal/v4/droplets/{guid}/upload")
    }
    pub fn build_cache(app_guid: &str, stack: &str) -> String {
        format!("/internal/v4/build_cache/{app_guid}/{stack}")
    }
    pub fn build_completed(guid: &str) -> String {
        format!("/internal/v4/builds/{guid}/completed")
    }
}

impl Service {
    /// An absolute internal URL for `path`, signed for any method and never expiring
    /// (droplet downloads, task completion callbacks).
    pub(crate) fn sign_internal_url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.settings.internal_url,
            sign_path(&self.settings.internal_secret, path)
        )
    }

    /// An absolute internal URL for `method` on `path`, valid for `ttl` (staging uploads
    /// and callbacks).
    pub(crate) fn sign_internal_url_for(&self, method: &str, path: &str, ttl: Duration) -> String {
        let expires = self.now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        format!(
            "{}{}",
            self.settings.internal_url,
            sign_path_until(&self.settings.internal_secret, method, path, expires)
        )
    }

    /// Where a cell downloads the droplet's tgz; stable, so an LRP can keep it.
    pub(crate) fn droplet_download_url(&self, droplet: &Droplet) -> String {
        self.sign_internal_url(&paths::droplet(&droplet.guid))
    }

    /// Checks an internal request's signature (for every `/internal` handler, including
    /// other areas' callbacks).
    pub(crate) fn verify_internal_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<(), Error> {
        verify(
            &self.settings.internal_secret,
            method,
            path,
            query,
            self.now(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret";

    fn query(url: &str) -> Option<&str> {
        url.split_once('?').map(|(_, q)| q)
    }

    #[test]
    fn forever_urls_verify_for_any_method_and_only_their_path() {
        let url = sign_path(SECRET, "/internal/v4/droplets/d1/download");
        let now = Utc::now();
        for method in ["GET", "POST"] {
            verify(
                SECRET,
                method,
                "/internal/v4/droplets/d1/download",
                query(&url),
                now,
            )
            .expect("valid");
        }
        assert_eq!(
            verify(
                SECRET,
                "GET",
                "/internal/v4/droplets/d2/download",
                query(&url),
                now
            ),
            Err(Error::NotAuthorized)
        );
        assert_eq!(
            verify(
                "other",
                "GET",
                "/internal/v4/droplets/d1/download",
                query(&url),
                now
            ),
            Err(Error::NotAuthorized)
        );
    }

    #[test]
    fn expiring_urls_bind_method_and_time() {
        let now = Utc::now();
        let path = "/internal/v4/droplets/d1/upload";
        let url = sign_path_until(SECRET, "POST", path, now + chrono::Duration::seconds(60));
        verify(SECRET, "POST", path, query(&url), now).expect("valid");
        assert!(verify(SECRET, "GET", path, query(&url), now).is_err());
        assert!(
            verify(
                SECRET,
                "POST",
                path,
                query(&url),
                now + chrono::Duration::seconds(61)
            )
            .is_err()
        );
        // Stretching the expiry breaks the signature.
        let forged = url.replace("expires=", "expires=9");
        assert!(verify(SECRET, "POST", path, query(&forged), now).is_err());
    }

    #[test]
    fn missing_or_garbled_signatures_fail() {
        let now = Utc::now();
        for q in [
            None,
            Some(""),
            Some("signature="),
            Some("expires=x&signature=00"),
        ] {
            assert_eq!(
                verify(SECRET, "GET", "/p", q, now),
                Err(Error::NotAuthorized)
            );
        }
    }
}
