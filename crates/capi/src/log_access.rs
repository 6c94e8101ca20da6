//! Who may read an app's logs. log-cache asks the Cloud Controller, as CF's cf-auth-proxy
//! does: a valid token, and an app the caller can see (or a token that reads everything).

use async_trait::async_trait;
use ingot_logging::{AccessDenied, LogAccess};

use crate::{http::AppState, model::App, store::docs};

pub struct AppLogAccess {
    pub(crate) state: AppState,
}

#[async_trait]
impl LogAccess for AppLogAccess {
    async fn authorize(
        &self,
        authorization: Option<&str>,
        source_id: &str,
    ) -> Result<(), AccessDenied> {
        let service = &self.state.service;
        let actor = service
            .authenticate(authorization)
            .await
            .map_err(|_| AccessDenied::Unauthenticated)?;
        if actor.perms.reads_everything() {
            return Ok(());
        }
        let store = service.store.as_ref();
        let app = docs::get::<App>(store, source_id)
            .await
            .ok()
            .flatten()
            .ok_or(AccessDenied::Forbidden)?;
        let space = store
            .space(&app.space_guid)
            .await
            .ok()
            .flatten()
            .ok_or(AccessDenied::Forbidden)?;
        if actor
            .perms
            .can_see_space(&space.organization_guid, &space.guid)
        {
            Ok(())
        } else {
            Err(AccessDenied::Forbidden)
        }
    }
}
