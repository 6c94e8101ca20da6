use std::collections::HashSet;

use super::{Actor, Service};
use crate::{
    Error,
    model::{
        Job, JobOperation, MetadataPatch, User,
        query::{ListParams, Page},
        user::UserView,
    },
    store::StoreError,
};

impl Service {
    /// Users the caller may see: everyone for global readers; otherwise themselves and the
    /// users of organizations they can see.
    async fn visible_user_guids(&self, actor: &Actor) -> Result<Option<HashSet<String>>, Error> {
        if actor.perms.reads_everything() {
            return Ok(None);
        }
        let mut guids: HashSet<String> = self
            .store
            .roles()
            .await?
            .into_iter()
            .filter(|r| actor.perms.can_see_organization(&r.organization_guid))
            .map(|r| r.user_guid)
            .collect();
        guids.insert(actor.guid.clone());
        Ok(Some(guids))
    }

    /// Filters, orders and pages users. UAA names are looked up for every user only when a
    /// filter needs them; otherwise the page is cut first and only its users are looked up
    /// (users are ordered by timestamps, never by name).
    pub(crate) async fn user_page(
        &self,
        users: Vec<User>,
        params: &ListParams,
    ) -> Result<Page<UserView>, Error> {
        let needs_uaa = ["usernames", "origins", "partial_usernames"]
            .iter()
            .any(|f| params.filters.contains_key(*f));
        if needs_uaa {
            let views = self.user_views(users).await?;
            return Ok(params.select(self.filter_users(views, params)));
        }
        let users: Vec<User> = users
            .into_iter()
            .filter(|u| params.allows("guids", &u.guid))
            .collect();
        let page = params.select(users);
        Ok(Page {
            items: self.user_views(page.items).await?,
            total_results: page.total_results,
            page: page.page,
            per_page: page.per_page,
        })
    }

    /// Applies the user filters that need UAA data.
    fn filter_users(&self, views: Vec<UserView>, params: &ListParams) -> Vec<UserView> {
        views
            .into_iter()
            .filter(|v| {
                params.allows("guids", &v.user.guid)
                    && params.allows_opt("usernames", v.username.as_deref())
                    && params.allows_opt("origins", v.origin.as_deref())
                    && params.filters.get("partial_usernames").is_none_or(|parts| {
                        v.username
                            .as_deref()
                            .is_some_and(|u| parts.iter().any(|p| u.contains(p.as_str())))
                    })
            })
            .collect()
    }

    pub async fn list_users(
        &self,
        actor: &Actor,
        params: &ListParams,
    ) -> Result<Page<UserView>, Error> {
        self.require_read(actor)?;
        let visible = self.visible_user_guids(actor).await?;
        let users: Vec<User> = self
            .store
            .users()
            .await?
            .into_iter()
            .filter(|u| visible.as_ref().is_none_or(|v| v.contains(&u.guid)))
            .collect();
        self.user_page(users, params).await
    }

    pub async fn user(&self, actor: &Actor, guid: &str) -> Result<UserView, Error> {
        self.require_read(actor)?;
        let visible = self.visible_user_guids(actor).await?;
        let user = self
            .store
            .user(guid)
            .await?
            .filter(|u| visible.as_ref().is_none_or(|v| v.contains(&u.guid)))
            .ok_or(Error::NotFound("User"))?;
        self.user_views(vec![user])
            .await?
            .pop()
            .ok_or(Error::NotFound("User"))
    }

    /// Admin only: registers a UAA user (or client) with the Cloud Controller.
    pub async fn create_user(
        &self,
        actor: &Actor,
        guid: String,
        metadata: MetadataPatch,
    ) -> Result<UserView, Error> {
        if !actor.is_admin() {
            return Err(Error::NotAuthorized);
        }
        let mut user = self.blank_user(&guid);
        user.metadata.apply(&metadata);
        self.store.create_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                Error::Unprocessable(format!("User with guid '{guid}' already exists."))
            }
            other => other.into(),
        })?;
        self.user_views(vec![user])
            .await?
            .pop()
            .ok_or(Error::NotFound("User"))
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        guid: &str,
        metadata: Option<MetadataPatch>,
    ) -> Result<UserView, Error> {
        let view = self.user(actor, guid).await?;
        if !actor.is_admin() {
            return Err(Error::NotAuthorized);
        }
        let mut user = view.user;
        if let Some(m) = &metadata {
            user.metadata.apply(m);
        }
        user.updated_at = self.now();
        self.store.update_user(&user).await?;
        self.user_views(vec![user])
            .await?
            .pop()
            .ok_or(Error::NotFound("User"))
    }

    pub async fn delete_user(&self, actor: &Actor, guid: &str) -> Result<Job, Error> {
        let view = self.user(actor, guid).await?;
        if !actor.is_admin() {
            return Err(Error::NotAuthorized);
        }
        self.forget_user(&view.user.guid);
        self.start_job(JobOperation::UserDelete, &view.user.guid, &[])
            .await
    }
}
