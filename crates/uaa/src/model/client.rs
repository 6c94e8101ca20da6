//! OAuth clients and the ones every Cloud Foundry has.

/// A registered OAuth client. Public clients (such as `cf`) have no secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Client {
    pub id: String,
    /// argon2 hash of the secret; None for public clients, which must send an empty secret.
    pub secret_hash: Option<String>,
    pub grant_types: Vec<String>,
    /// Scopes the client may request on behalf of users.
    pub scope: Vec<String>,
    /// Scopes of the client's own (client_credentials) tokens.
    pub authorities: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub autoapprove: bool,
    /// Per-client token lifetimes in seconds; None means the UAA default.
    pub access_token_validity: Option<i64>,
    pub refresh_token_validity: Option<i64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field(
                "secret_hash",
                &self.secret_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("grant_types", &self.grant_types)
            .field("scope", &self.scope)
            .field("authorities", &self.authorities)
            .field("redirect_uris", &self.redirect_uris)
            .field("autoapprove", &self.autoapprove)
            .finish()
    }
}

impl Client {
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    pub fn has_authority(&self, authority: &str) -> bool {
        self.authorities.iter().any(|a| a == authority)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The cf CLI's client, as cf-deployment registers it.
pub(crate) fn cf_client() -> Client {
    Client {
        id: "cf".into(),
        secret_hash: None,
        grant_types: strings(&["password", "refresh_token"]),
        scope: strings(&[
            "network.admin",
            "network.write",
            "cloud_controller.read",
            "cloud_controller.write",
            "openid",
            "password.write",
            "cloud_controller.admin",
            "scim.read",
            "scim.write",
            "doppler.firehose",
            "uaa.user",
            "routing.router_groups.read",
            "routing.router_groups.write",
            "cloud_controller.admin_read_only",
            "cloud_controller.global_auditor",
            "clients.read",
        ]),
        authorities: strings(&["uaa.none"]),
        redirect_uris: Vec::new(),
        autoapprove: true,
        access_token_validity: None,
        refresh_token_validity: None,
    }
}

/// The SSH proxy's client: `cf ssh` gets a one-time code through it.
pub(crate) fn ssh_proxy_client(uaa_url: &str) -> Client {
    Client {
        id: "ssh-proxy".into(),
        secret_hash: None,
        grant_types: strings(&["authorization_code"]),
        scope: strings(&[
            "openid",
            "cloud_controller.read",
            "cloud_controller.write",
            "cloud_controller.admin",
        ]),
        authorities: strings(&["uaa.none"]),
        redirect_uris: vec![format!("{uaa_url}/login")],
        autoapprove: true,
        access_token_validity: None,
        refresh_token_validity: None,
    }
}

/// The operator's admin client (client_credentials).
pub(crate) fn admin_client(id: &str, secret_hash: String) -> Client {
    Client {
        id: id.to_owned(),
        secret_hash: Some(secret_hash),
        grant_types: strings(&["client_credentials"]),
        scope: strings(&["uaa.none"]),
        authorities: strings(&[
            "cloud_controller.admin",
            "uaa.admin",
            "scim.read",
            "scim.write",
            "clients.read",
            "clients.write",
            "uaa.resource",
            "doppler.firehose",
            "routing.router_groups.read",
        ]),
        redirect_uris: Vec::new(),
        autoapprove: true,
        access_token_validity: None,
        refresh_token_validity: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret_hash() {
        let client = admin_client("admin", "$argon2id$secret".into());
        let shown = format!("{client:?}");
        assert!(!shown.contains("argon2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn cf_client_is_public_with_password_and_refresh() {
        let cf = cf_client();
        assert!(cf.secret_hash.is_none());
        assert!(cf.allows_grant("password") && cf.allows_grant("refresh_token"));
        assert!(!cf.allows_grant("client_credentials"));
    }
}
