use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Inner, accepted, created,
    extract::{Auth, Body},
    list_page, metadata_json,
    organizations::USER_LIST,
    ts,
};
use crate::{
    Error,
    model::{user::UserView, validation::Fields},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/users", get(list_users).post(create_user))
        .route(
            "/v3/users/{guid}",
            get(get_user).patch(update_user).delete(delete_user),
        )
}

pub fn user_json(state: &Inner, view: &UserView) -> Value {
    let user = &view.user;
    json!({
        "guid": user.guid,
        "created_at": ts(user.created_at),
        "updated_at": ts(user.updated_at),
        "username": view.username,
        "presentation_name": view.presentation_name(),
        "origin": view.origin,
        "metadata": metadata_json(&user.metadata),
        "links": { "self": state.link(&format!("/v3/users/{}", user.guid)) },
    })
}

async fn list_users(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/users",
        query.as_deref(),
        &USER_LIST,
        async |params| state.service.list_users(&actor, params).await,
        |u| user_json(&state, u),
    )
    .await
}

async fn get_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Json<Value>, Error> {
    let user = state.service.user(&actor, &guid).await?;
    Ok(Json(user_json(&state, &user)))
}

async fn create_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body,
) -> Result<Response, Error> {
    let mut fields = Fields::of(&body)?;
    let guid = fields.string("guid", true);
    if guid.as_ref().is_some_and(|g| g.is_empty() || g.len() > 250) {
        fields.error("Guid must be between 1 and 250 characters");
    }
    let metadata = fields.metadata();
    fields.finish()?;
    let user = state
        .service
        .create_user(
            &actor,
            guid.unwrap_or_default(),
            metadata.unwrap_or_default(),
        )
        .await?;
    Ok(created(user_json(&state, &user)))
}

async fn update_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let metadata = fields.metadata();
    fields.finish()?;
    let user = state.service.update_user(&actor, &guid, metadata).await?;
    Ok(Json(user_json(&state, &user)))
}

async fn delete_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(guid): Path<String>,
) -> Result<Response, Error> {
    accepted(&state, state.service.delete_user(&actor, &guid).await)
}
