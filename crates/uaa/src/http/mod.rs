//! UAA's HTTP API as the cf CLI and other CF components call it. Handlers decode, call the
//! service, encode; errors become UAA's wire shape in `error.rs` only.

use std::sync::Arc;

use axum::{
    Router,
    routing::{delete, get, post, put},
};

use crate::service::Service;

mod error;
mod extract;
mod groups;
mod info;
mod oauth;
mod scim_json;
mod users;

type State = axum::extract::State<Arc<Service>>;

pub(crate) fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/login", get(info::get_info))
        .route("/info", get(info::get_info))
        .route(
            "/.well-known/openid-configuration",
            get(info::get_openid_configuration),
        )
        .route("/healthz", get(info::get_health))
        .route("/oauth/token", post(oauth::post_token))
        .route("/oauth/token/revoke/{jti}", delete(oauth::revoke_token))
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/token_keys", get(oauth::get_token_keys))
        .route("/token_key", get(oauth::get_token_key))
        .route("/check_token", post(oauth::check_token))
        .route(
            "/userinfo",
            get(oauth::get_user_info).post(oauth::get_user_info),
        )
        .route("/Users", get(users::list_users).post(users::create_user))
        .route(
            "/Users/{id}",
            get(users::get_user)
                .put(users::update_user)
                .delete(users::delete_user),
        )
        .route("/Users/{id}/password", put(users::change_password))
        .route(
            "/Groups",
            get(groups::list_groups).post(groups::create_group),
        )
        .route("/Groups/{id}", get(groups::get_group))
        .route(
            "/Groups/{id}/members",
            get(groups::list_members).post(groups::add_member),
        )
        .route(
            "/Groups/{id}/members/{user_id}",
            delete(groups::remove_member),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service)
}

/// UAA answers unknown paths with a plain 404, not a SCIM resource error.
async fn not_found() -> axum::response::Response {
    error::status_response(axum::http::StatusCode::NOT_FOUND, "not_found", "Not Found")
}

async fn method_not_allowed() -> axum::response::Response {
    error::status_response(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Request method not supported",
    )
}
