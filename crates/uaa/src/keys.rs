//! The RSA keys that sign tokens: generated once, kept in the UAA database, published as a JWKS.
//! New tokens are signed with the newest key; every stored key still verifies.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding},
    traits::PublicKeyParts,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, TokenVerifier, store::SigningKeyRecord};

const KEY_BITS: usize = 2048;

/// A fresh 2048-bit key. Slow: call it off the async runtime's threads.
pub(crate) fn generate(now: DateTime<Utc>) -> Result<SigningKeyRecord, Error> {
    let mut rng = rand::rngs::OsRng;
    let key = RsaPrivateKey::new(&mut rng, KEY_BITS).map_err(|e| Error::Keys(e.to_string()))?;
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::Keys(e.to_string()))?;
    Ok(SigningKeyRecord {
        kid: key_id(&RsaPublicKey::from(&key))?,
        private_pem: private_pem.to_string(),
        created_at: now,
    })
}

/// A stable id for a public key: the start of the SHA-256 of its DER encoding.
fn key_id(public: &RsaPublicKey) -> Result<String, Error> {
    let der = public
        .to_public_key_der()
        .map_err(|e| Error::Keys(e.to_string()))?;
    let digest = Sha256::digest(der.as_bytes());
    Ok(format!("key-{}", URL_SAFE_NO_PAD.encode(&digest[..12])))
}

/// One key as `/token_keys` publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Jwk {
    pub kty: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
    /// The public key as PEM, which UAA also publishes.
    pub value: String,
}

/// The loaded keys: the newest one signs, all of them verify.
pub(crate) struct KeyRing {
    signing_kid: String,
    signing_key: EncodingKey,
    jwks: Vec<Jwk>,
    verifier: TokenVerifier,
}

impl KeyRing {
    /// `records` oldest first, at least one.
    pub fn load(records: &[SigningKeyRecord], issuer: &str) -> Result<Self, Error> {
        let newest = records
            .last()
            .ok_or_else(|| Error::Keys("no signing key".into()))?;
        let mut jwks = Vec::with_capacity(records.len());
        for record in records {
            let private = RsaPrivateKey::from_pkcs8_pem(&record.private_pem)
                .map_err(|e| Error::Keys(format!("key {}: {e}", record.kid)))?;
            let public = RsaPublicKey::from(&private);
            let value = public
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| Error::Keys(e.to_string()))?;
            jwks.push(Jwk {
                kty: "RSA",
                alg: "RS256",
                use_: "sig",
                kid: record.kid.clone(),
                n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                value,
            });
        }
        let verifier = TokenVerifier::from_pem_keys(
            jwks.iter().map(|k| (k.kid.as_str(), k.value.as_str())),
            issuer,
        )
        .map_err(|e| Error::Keys(e.to_string()))?;
        let signing_key = EncodingKey::from_rsa_pem(newest.private_pem.as_bytes())
            .map_err(|e| Error::Keys(e.to_string()))?;
        // Newest first, so `/token_key` (one key) can take the head.
        jwks.reverse();
        Ok(Self {
            signing_kid: newest.kid.clone(),
            signing_key,
            jwks,
            verifier,
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing_key)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// Newest first.
    pub fn jwks(&self) -> &[Jwk] {
        &self.jwks
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Claims;

    fn claims(issuer: &str) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            jti: "jti-1".into(),
            sub: "admin".into(),
            user_id: None,
            user_name: None,
            origin: None,
            email: None,
            client_id: "admin".into(),
            cid: Some("admin".into()),
            grant_type: Some("client_credentials".into()),
            scope: vec!["uaa.admin".into()],
            aud: vec!["admin".into()],
            iss: issuer.into(),
            iat: now,
            exp: now + 60,
            zid: Some("uaa".into()),
            revocable: true,
        }
    }

    #[test]
    fn generated_keys_sign_and_verify_and_survive_reloading() {
        let issuer = "http://uaa.test/oauth/token";
        let old = generate(Utc::now()).expect("generate");
        let ring = KeyRing::load(std::slice::from_ref(&old), issuer).expect("load");
        let token = ring.sign(&claims(issuer)).expect("sign");
        assert_eq!(ring.verifier().verify(&token).expect("verify").jti, "jti-1");

        // A second key becomes the signer; tokens of the first still verify.
        let new = generate(Utc::now()).expect("generate");
        assert_ne!(old.kid, new.kid);
        let ring = KeyRing::load(&[old.clone(), new.clone()], issuer).expect("reload");
        assert!(ring.verifier().verify(&token).is_ok());
        let header =
            jsonwebtoken::decode_header(ring.sign(&claims(issuer)).expect("sign")).expect("header");
        assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()));
        assert_eq!(ring.jwks()[0].kid, new.kid);
        assert_eq!(ring.jwks().len(), 2);
        let jwk = &ring.jwks()[1];
        assert_eq!((jwk.kty, jwk.alg, jwk.use_), ("RSA", "RS256", "sig"));
        assert_eq!(jwk.e, "AQAB");
        assert!(jwk.value.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = generate(Utc::now()).expect("generate");
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }
}
