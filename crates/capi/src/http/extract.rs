//! Request extractors: the authenticated caller and the JSON body.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header::AUTHORIZATION, request::Parts},
};
use serde_json::Value;

use super::AppState;
use crate::{Error, service::Actor};

/// The caller, authenticated from the `Authorization` header.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .map(|h| h.to_str().map_err(|_| Error::InvalidAuthToken))
            .transpose()?;
        state.service.authenticate(header).await.map(Auth)
    }
}

/// A JSON body. Malformed JSON is a 400 parse error; an empty body reads as `{}`.
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Error::MessageParse(e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| Error::MessageParse(e.to_string()))
    }
}
