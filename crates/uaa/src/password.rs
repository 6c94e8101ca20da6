//! Password and client-secret hashing with argon2id (default parameters). Hashing is slow on
//! purpose, so it runs on the blocking pool, never on the async runtime's threads. argon2's
//! verification compares in constant time.
//!
//! Each hash needs 19 MiB and a core for tens of milliseconds, so at most one hash per core runs
//! at a time: more would only add latency and memory (a login burst would otherwise grow the
//! blocking pool, and the memory each of its threads keeps, without bound).

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::Error;

static HASHING_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Runs `work` on the blocking pool once a hashing slot is free.
async fn in_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let _slot = HASHING_SLOTS
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

fn hash_blocking(secret: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

fn verify_blocking(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) async fn hash(secret: String) -> Result<String, Error> {
    in_hashing_slot(move || hash_blocking(&secret)).await?
}

pub(crate) async fn verify(secret: String, hash: String) -> Result<bool, Error> {
    in_hashing_slot(move || verify_blocking(&secret, &hash)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_the_right_secret() {
        let hashed = hash("s3cret".into()).await.expect("hash");
        assert!(hashed.starts_with("$argon2id$"));
        assert!(
            verify("s3cret".into(), hashed.clone())
                .await
                .expect("verify")
        );
        assert!(!verify("wrong".into(), hashed).await.expect("verify"));
        assert!(
            !verify("x".into(), "not a hash".into())
                .await
                .expect("verify")
        );
    }
}
