//! Password and client-secret hashing with argon2id (default parameters). Hashing is slow on
//! purpose, so it runs on the blocking pool, never on the async runtime's threads. argon2's
//! verification compares in constant time.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use rand::RngCore;

use crate::Error;

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
    tokio::task::spawn_blocking(move || hash_blocking(&secret))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

pub(crate) async fn verify(secret: String, hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || verify_blocking(&secret, &hash))
        .await
        .map_err(|e| Error::Internal(e.to_string()))
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
