use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    routing::get,
};
use serde_json::{Value, json};

use super::{
    AppState, Inner,
    extract::{Auth, Body},
    list_page, ts,
};
use crate::{
    Error,
    model::{FeatureFlag, query::ListSpec, validation::Fields},
};

const LIST: ListSpec = ListSpec {
    filters: &[],
    includes: &[],
    order_by: &["name"],
    label_selector: false,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/feature_flags", get(list_feature_flags))
        .route(
            "/v3/feature_flags/{name}",
            get(get_feature_flag).patch(update_feature_flag),
        )
}

pub fn feature_flag_json(state: &Inner, flag: &FeatureFlag) -> Value {
    json!({
        "name": flag.name,
        "enabled": flag.enabled,
        "updated_at": flag.updated_at.map(ts),
        "custom_error_message": flag.custom_error_message,
        "links": { "self": state.link(&format!("/v3/feature_flags/{}", flag.name)) },
    })
}

async fn list_feature_flags(
    State(state): State<AppState>,
    Auth(actor): Auth,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Error> {
    list_page(
        &state,
        "/v3/feature_flags",
        query.as_deref(),
        &LIST,
        async |params| state.service.list_feature_flags(&actor, params).await,
        |f| feature_flag_json(&state, f),
    )
    .await
}

async fn get_feature_flag(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, Error> {
    let flag = state.service.feature_flag(&actor, &name).await?;
    Ok(Json(feature_flag_json(&state, &flag)))
}

async fn update_feature_flag(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, Error> {
    let mut fields = Fields::of(&body)?;
    let enabled = fields.boolean("enabled", false);
    let message = fields.nullable_string("custom_error_message");
    if let Some(Some(m)) = &message
        && m.chars().count() > 250
    {
        fields.error("Custom error message is too long (maximum is 250 characters)");
    }
    fields.finish()?;
    let flag = state
        .service
        .update_feature_flag(&actor, &name, enabled, message)
        .await?;
    Ok(Json(feature_flag_json(&state, &flag)))
}
