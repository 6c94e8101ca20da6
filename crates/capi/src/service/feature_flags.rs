use super::{Actor, Service};
use crate::{
    Error,
    model::{
        FeatureFlag,
        query::{ListParams, Page},
    },
};

impl Service {
    pub async fn list_feature_flags(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<FeatureFlag>, Error> {
        self.require_read(actor)?;
        let mut params = params.clone();
        if params.order_by.is_none() {
            params.order_by = Some(("name".into(), false));
        }
        Ok(params.select(self.store.feature_flags().await?))
    }

    pub async fn feature_flag(&self, actor: &Actor, name: &str) -> Result<FeatureFlag, Error> {
        self.require_read(actor)?;
        self.store
            .feature_flag(name)
            .await?
            .ok_or(Error::NotFound("Feature flag"))
    }

    /// Admin only. `custom_error_message`: outer None leaves it, inner None clears it.
    pub async fn update_feature_flag(
        &self,
        actor: &Actor,
        name: &str,
        enabled: Option<bool>,
        custom_error_message: Option<Option<String>>,
    ) -> Result<FeatureFlag, Error> {
        let mut flag = self.feature_flag(actor, name).await?;
        if !actor.is_admin() {
            return Err(Error::NotAuthorized);
        }
        if let Some(e) = enabled {
            flag.enabled = e;
        }
        if let Some(m) = custom_error_message {
            flag.custom_error_message = m;
        }
        flag.updated_at = Some(self.now());
        self.store.update_feature_flag(&flag).await?;
        Ok(flag)
    }
}
