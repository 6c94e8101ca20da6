use std::time::Duration;

use axum::Json;
use axum::extract::State;

use super::{Reply, done};
use crate::http::Api;
use crate::http::extract::Body;
use crate::http::messages::{DomainsResponse, Empty, UpsertDomainRequest};

pub(crate) async fn upsert_domain(
    State(api): State<Api>,
    Body(req): Body<UpsertDomainRequest>,
) -> Reply<Empty> {
    api.upsert_domain(&req.domain, Duration::from_secs(req.ttl))
        .await?;
    done()
}

pub(crate) async fn list_domains(State(api): State<Api>) -> Reply<DomainsResponse> {
    Ok(Json(DomainsResponse {
        domains: api.domains().await?,
    }))
}
