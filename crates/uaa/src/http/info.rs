//! `GET /login` and `GET /info`: the discovery document the cf CLI reads first.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::State as AppState;

/// The UAA version we speak for; the cf CLI needs at least 4.26.0 for `--origin`.
const UAA_VERSION: &str = "4.30.0";

pub(super) async fn get_info(State(service): AppState) -> Json<Value> {
    let url = service.url();
    Json(json!({
        "app": { "version": UAA_VERSION },
        "links": {
            "uaa": url,
            "login": url,
            "passwd": "/forgot_password",
            "register": "/create_account",
        },
        "prompts": {
            "username": ["text", "Email"],
            "password": ["password", "Password"],
            "passcode": ["password", format!("One Time Code (Get one at {url}/passcode)")],
        },
        "zone_name": "uaa",
        "entityID": "cloudfoundry-saml-login",
        "commit_id": "ingot",
        "idpDefinitions": {},
        "showLoginLinks": true,
        "timestamp": service.started_at().format("%Y-%m-%dT%H:%M:%S%z").to_string(),
    }))
}

pub(super) async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
