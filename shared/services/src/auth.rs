//! Request authentication, once per transport-independent call: `AUTH_MODE=none` answers the
//! default organization for any credentials; `AUTH_MODE=api_key` looks the presented `evr_` key
//! up by its SHA-256 digest and answers its organization, or 401.
//!
//! Accepted forms of the `Authorization` header: the raw key (what the SDKs send), `Bearer <key>`
//! and `ApiKey <key>`; an OAuth access token (`evr_at_…`, see [`crate::oauth`]) acts for the
//! organization it was granted for. An optional `X-Org-Id` must name the key's organization (403 otherwise).

use everruns_core::domain::{ApiKey, Organization};
use everruns_core::ids::{ApiKeyId, OrgId};
use everruns_core::time::Timestamp;
use everruns_secrets::api_key;

use crate::App;
use crate::config::AuthMode;
use crate::error::{ServiceError, ServiceResult};

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The organization every query is scoped to.
    pub org: OrgId,
    /// The key that authenticated the request (`None` with `AUTH_MODE=none`).
    pub key: Option<ApiKeyId>,
}

/// How often a key's `last_used_at` is refreshed at most.
const TOUCH_EVERY_MS: i64 = 60_000;

fn unauthorized(message: &str) -> ServiceError {
    ServiceError::Unauthorized(message.to_owned())
}

/// The key in an `Authorization` value: raw, `Bearer <key>` or `ApiKey <key>`.
fn presented_key(authorization: &str) -> &str {
    let value = authorization.trim();
    for scheme in ["Bearer ", "ApiKey "] {
        if value.len() > scheme.len() && value[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return value[scheme.len()..].trim();
        }
    }
    value
}

/// Parses `X-Org-Id`.
fn requested_org(header: Option<&str>) -> ServiceResult<Option<OrgId>> {
    match header {
        None => Ok(None),
        Some(text) => OrgId::parse(text.trim()).map(Some).map_err(|_| ServiceError::BadRequest {
            code: "invalid_org_id",
            message: "X-Org-Id must be an organization id like org_<32 hex characters>".to_owned(),
        }),
    }
}

/// Authenticates a request from its `Authorization` and `X-Org-Id` header values.
pub async fn authenticate(state: &App, authorization: Option<&str>, org_header: Option<&str>) -> ServiceResult<Caller> {
    let requested = requested_org(org_header)?;
    if state.config.auth_mode == AuthMode::None {
        return match requested {
            Some(org) if org != OrgId::DEFAULT => {
                Err(ServiceError::Forbidden(format!("organization '{org}' is not accessible with AUTH_MODE=none")))
            }
            _ => Ok(Caller { org: OrgId::DEFAULT, key: None }),
        };
    }
    let presented = authorization.map(presented_key).filter(|k| !k.is_empty()).ok_or_else(|| {
        unauthorized("missing credentials: send an API key in the Authorization header (Authorization: evr_…)")
    })?;
    if presented.starts_with(crate::oauth::ACCESS_PREFIX) {
        let caller = Caller { org: crate::oauth::tokens::authenticate_access(state, presented).await?, key: None };
        if let Some(org) = requested
            && org != caller.org
        {
            return Err(ServiceError::Forbidden(format!("the access token does not act for organization '{org}'")));
        }
        return Ok(caller);
    }
    if !api_key::is_well_formed(presented) {
        return Err(unauthorized("invalid API key"));
    }
    let key = state
        .stores
        .auth
        .find_api_key(&api_key::digest(presented))
        .await?
        .ok_or_else(|| unauthorized("invalid API key"))?;
    let now = Timestamp::now();
    if key.is_expired(now) {
        return Err(unauthorized("the API key has expired"));
    }
    if let Some(org) = requested
        && org != key.organization_id
    {
        return Err(ServiceError::Forbidden(format!("the API key does not belong to organization '{org}'")));
    }
    if key.last_used_at.is_none_or(|at| now.millis() - at.millis() >= TOUCH_EVERY_MS) {
        let store = state.stores.auth.clone();
        tokio::spawn(async move {
            if let Err(error) = store.touch_api_key(key.id, now).await {
                tracing::debug!("recording the use of an API key failed: {error}");
            }
        });
    }
    Ok(Caller { org: key.organization_id, key: Some(key.id) })
}

/// What to create a key with.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// Label.
    pub name: String,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
}

/// A created key and its secret (shown once).
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored key.
    pub key: ApiKey,
    /// The secret.
    pub secret: String,
}

/// Creates an API key of `org`.
pub async fn create_key(state: &App, org: OrgId, input: NewKey) -> ServiceResult<CreatedKey> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::bad_request("name must be 1 to 100 characters without control characters"));
    }
    let now = Timestamp::now();
    if input.expires_at.is_some_and(|at| at.millis() <= now.millis()) {
        return Err(ServiceError::bad_request("expires_at must be in the future"));
    }
    let generated = api_key::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
    let key = ApiKey {
        id: ApiKeyId::new(),
        organization_id: org,
        name: name.to_owned(),
        key_prefix: generated.prefix.clone(),
        scopes: vec!["*".to_owned()],
        expires_at: input.expires_at,
        last_used_at: None,
        created_at: now,
    };
    state.stores.auth.insert_api_key(&key, &generated.digest).await?;
    Ok(CreatedKey { key, secret: generated.secret })
}

/// Creates an organization (seeded like the default one) and its first key.
pub async fn register(state: &App, name: &str, key_name: &str) -> ServiceResult<(Organization, CreatedKey)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ServiceError::bad_request(
            "organization_name must be 1 to 200 characters without control characters",
        ));
    }
    let org = Organization::new(name);
    state.stores.auth.insert_organization(&org).await?;
    let keyed: Vec<_> = state.config.default_keys.by_driver().into_iter().map(|(driver, _)| driver).collect();
    crate::seed::seed_org(
        &state.stores,
        org.id,
        &state.platform,
        state.config.grade,
        &keyed,
        state.config.llmsim_pacing,
    )
    .await
    .map_err(|e| ServiceError::Internal(format!("seeding organization {}: {e}", org.id)))?;
    crate::seed::apply_default_base_urls(&state.stores, org.id, &state.config.default_keys.base_urls())
        .await
        .map_err(|e| ServiceError::Internal(format!("seeding organization {}: {e}", org.id)))?;
    let key = create_key(state, org.id, NewKey { name: key_name.to_owned(), expires_at: None }).await?;
    Ok((org, key))
}

/// Registers `AUTH_BOOTSTRAP_API_KEY` for the default organization (idempotent).
pub async fn bootstrap(stores: &everruns_core::ports::Stores, secret: &str) -> anyhow::Result<()> {
    let digest = api_key::digest(secret);
    if stores.auth.find_api_key(&digest).await?.is_some() {
        return Ok(());
    }
    let key = ApiKey {
        id: ApiKeyId::new(),
        organization_id: OrgId::DEFAULT,
        name: "bootstrap (AUTH_BOOTSTRAP_API_KEY)".to_owned(),
        key_prefix: api_key::display_prefix(secret),
        scopes: vec!["*".to_owned()],
        expires_at: None,
        last_used_at: None,
        created_at: Timestamp::now(),
    };
    match stores.auth.insert_api_key(&key, &digest).await {
        // Another instance registered it first.
        Ok(()) | Err(everruns_core::ports::PortError::Conflict(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_forms() {
        assert_eq!(presented_key("evr_abc"), "evr_abc");
        assert_eq!(presented_key("Bearer evr_abc"), "evr_abc");
        assert_eq!(presented_key("bearer  evr_abc "), "evr_abc");
        assert_eq!(presented_key("ApiKey evr_abc"), "evr_abc");
        assert_eq!(presented_key("Bearer"), "Bearer");
    }

    #[test]
    fn org_header_is_validated() {
        assert_eq!(requested_org(None).unwrap(), None);
        assert_eq!(requested_org(Some("org_00000000000000000000000000000001")).unwrap(), Some(OrgId::DEFAULT));
        assert!(matches!(requested_org(Some("acme")), Err(ServiceError::BadRequest { code: "invalid_org_id", .. })));
    }
}
