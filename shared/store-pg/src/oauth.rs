//! `PgOAuthStore`: registered clients (`oauth_clients`), authorization codes (`oauth_codes`) and
//! issued tokens (`oauth_tokens`), codes and tokens keyed by the SHA-256 digest of their secret.
//! A code is redeemed by one conditional `UPDATE … WHERE used_at IS NULL`, and a refresh token
//! rotated by the same kind of `UPDATE` followed by the insert of the new tokens in one
//! transaction: of concurrent uses exactly one wins (the row lock makes the others re-check the
//! condition against the committed row). A batch of tokens is one `INSERT … SELECT unnest(…)`.

use chrono::{DateTime, Utc};
use everruns_core::domain::{AuthorizationCode, CodeRedemption, Grant, KeyDigest, OAuthClient, OAuthToken, TokenKind};
use everruns_core::ids::OrgId;
use everruns_core::ports::{OAuthStore, PortError, PortResult};
use everruns_core::time::Timestamp;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::{Violation, corrupt, port_error, violation};

/// The code columns every read returns, in [`CodeRow`] order.
macro_rules! code_columns {
    () => {
        "digest, grant_id, client_id, org_id, scope, resource, redirect_uri, code_challenge, expires_at"
    };
}

/// The token columns every read returns, in [`TokenRow`] order.
macro_rules! token_columns {
    () => {
        "digest, kind, grant_id, client_id, org_id, scope, resource, expires_at, revoked_at, used_at, created_at"
    };
}

/// The Postgres [`OAuthStore`].
#[derive(Debug, Clone)]
pub struct PgOAuthStore {
    pool: PgPool,
}

impl PgOAuthStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn digest(operation: &'static str, bytes: &[u8]) -> PortResult<KeyDigest> {
    <[u8; 32]>::try_from(bytes).map(KeyDigest).map_err(|err| corrupt(operation, err))
}

fn grant(grant_id: String, client_id: String, org_id: Uuid, scope: String, resource: Option<String>) -> Grant {
    Grant { grant_id, client_id, org: OrgId::from_uuid(org_id), scope, resource }
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    secret_digest: Option<Vec<u8>>,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
}

impl ClientRow {
    fn client(self) -> PortResult<OAuthClient> {
        Ok(OAuthClient {
            id: self.id,
            secret_digest: self.secret_digest.map(|d| digest("find_client", &d)).transpose()?,
            metadata: self.metadata.0,
            created_at: self.created_at.into(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    digest: Vec<u8>,
    grant_id: String,
    client_id: String,
    org_id: Uuid,
    scope: String,
    resource: Option<String>,
    redirect_uri: String,
    code_challenge: String,
    expires_at: DateTime<Utc>,
}

impl CodeRow {
    fn code(self) -> PortResult<AuthorizationCode> {
        Ok(AuthorizationCode {
            digest: digest("redeem_code", &self.digest)?,
            grant: grant(self.grant_id, self.client_id, self.org_id, self.scope, self.resource),
            redirect_uri: self.redirect_uri,
            code_challenge: self.code_challenge,
            expires_at: self.expires_at.into(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    digest: Vec<u8>,
    kind: String,
    grant_id: String,
    client_id: String,
    org_id: Uuid,
    scope: String,
    resource: Option<String>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TokenRow {
    fn token(self) -> PortResult<OAuthToken> {
        let kind = TokenKind::parse(&self.kind)
            .ok_or_else(|| corrupt("find_token", format!("unknown token kind '{}'", self.kind)))?;
        Ok(OAuthToken {
            digest: digest("find_token", &self.digest)?,
            kind,
            grant: grant(self.grant_id, self.client_id, self.org_id, self.scope, self.resource),
            expires_at: self.expires_at.into(),
            revoked_at: self.revoked_at.map(Into::into),
            used_at: self.used_at.map(Into::into),
            created_at: self.created_at.into(),
        })
    }
}

/// Inserts `tokens` in one statement (all or none): `Conflict` on a digest that exists (or
/// repeats), `NotFound` on an organization that does not exist.
async fn insert_tokens<'e>(
    executor: impl PgExecutor<'e>,
    tokens: &[OAuthToken],
    operation: &'static str,
) -> PortResult<()> {
    let Some(first) = tokens.first() else { return Ok(()) };
    let times = |f: &dyn Fn(&OAuthToken) -> Option<Timestamp>| {
        tokens.iter().map(|t| f(t).map(|at| at.as_datetime())).collect::<Vec<_>>()
    };
    sqlx::query(concat!(
        "INSERT INTO oauth_tokens (",
        token_columns!(),
        ") SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], \
         $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])"
    ))
    .bind(tokens.iter().map(|t| &t.digest.0[..]).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.kind.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.grant.grant_id.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.grant.client_id.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.grant.org.uuid()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.grant.scope.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.grant.resource.as_deref()).collect::<Vec<_>>())
    .bind(times(&|t| Some(t.expires_at)))
    .bind(times(&|t| t.revoked_at))
    .bind(times(&|t| t.used_at))
    .bind(times(&|t| Some(t.created_at)))
    .execute(executor)
    .await
    .map_err(|err| match violation(&err) {
        Some(Violation::Unique(_)) => PortError::Conflict("oauth token already exists".to_owned()),
        Some(Violation::ForeignKey(_)) => PortError::not_found("organization", first.grant.org),
        _ => port_error(operation, err),
    })?;
    Ok(())
}

#[async_trait::async_trait]
impl OAuthStore for PgOAuthStore {
    async fn insert_client(&self, client: &OAuthClient) -> PortResult<()> {
        sqlx::query("INSERT INTO oauth_clients (id, secret_digest, metadata, created_at) VALUES ($1, $2, $3, $4)")
            .bind(client.id.as_str())
            .bind(client.secret_digest.as_ref().map(|d| &d.0[..]))
            .bind(Json(&client.metadata))
            .bind(client.created_at.as_datetime())
            .execute(&self.pool)
            .await
            .map_err(|err| match violation(&err) {
                Some(Violation::Unique(_)) => {
                    PortError::Conflict(format!("oauth client '{}' already exists", client.id))
                }
                _ => port_error("insert_client", err),
            })?;
        Ok(())
    }

    async fn find_client(&self, id: &str) -> PortResult<Option<OAuthClient>> {
        sqlx::query_as::<_, ClientRow>(
            "SELECT id, secret_digest, metadata, created_at FROM oauth_clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("find_client", err))?
        .map(ClientRow::client)
        .transpose()
    }

    async fn insert_code(&self, code: &AuthorizationCode) -> PortResult<()> {
        let grant = &code.grant;
        sqlx::query(concat!(
            "INSERT INTO oauth_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&code.digest.0[..])
        .bind(grant.grant_id.as_str())
        .bind(grant.client_id.as_str())
        .bind(grant.org.uuid())
        .bind(grant.scope.as_str())
        .bind(grant.resource.as_deref())
        .bind(code.redirect_uri.as_str())
        .bind(code.code_challenge.as_str())
        .bind(code.expires_at.as_datetime())
        .execute(&self.pool)
        .await
        .map_err(|err| match violation(&err) {
            Some(Violation::Unique(_)) => PortError::Conflict("authorization code already exists".to_owned()),
            Some(Violation::ForeignKey(_)) => PortError::not_found("organization", grant.org),
            _ => port_error("insert_code", err),
        })?;
        Ok(())
    }

    async fn redeem_code(&self, digest: &KeyDigest, now: Timestamp) -> PortResult<CodeRedemption> {
        let redeemed = sqlx::query_as::<_, CodeRow>(concat!(
            "UPDATE oauth_codes SET used_at = $2 WHERE digest = $1 AND used_at IS NULL RETURNING ",
            code_columns!()
        ))
        .bind(&digest.0[..])
        .bind(now.as_datetime())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("redeem_code", err))?;
        if let Some(row) = redeemed {
            return Ok(CodeRedemption::Redeemed(row.code()?));
        }
        // Not redeemed now: either there is no such code, or it was used before (a replay).
        let found =
            sqlx::query_as::<_, CodeRow>(concat!("SELECT ", code_columns!(), " FROM oauth_codes WHERE digest = $1"))
                .bind(&digest.0[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| port_error("redeem_code", err))?;
        Ok(match found {
            Some(row) => CodeRedemption::AlreadyUsed(row.code()?),
            None => CodeRedemption::Unknown,
        })
    }

    async fn insert_tokens(&self, tokens: &[OAuthToken]) -> PortResult<()> {
        insert_tokens(&self.pool, tokens, "insert_tokens").await
    }

    async fn find_token(&self, digest: &KeyDigest) -> PortResult<Option<OAuthToken>> {
        sqlx::query_as::<_, TokenRow>(concat!("SELECT ", token_columns!(), " FROM oauth_tokens WHERE digest = $1"))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| port_error("find_token", err))?
            .map(TokenRow::token)
            .transpose()
    }

    async fn rotate_refresh(&self, old: &KeyDigest, now: Timestamp, issued: &[OAuthToken]) -> PortResult<bool> {
        let mut tx = self.pool.begin().await.map_err(|err| port_error("rotate_refresh", err))?;
        let used = sqlx::query(
            "UPDATE oauth_tokens SET used_at = $2 \
             WHERE digest = $1 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(&old.0[..])
        .bind(now.as_datetime())
        .execute(&mut *tx)
        .await
        .map_err(|err| port_error("rotate_refresh", err))?;
        if used.rows_affected() != 1 {
            tx.rollback().await.map_err(|err| port_error("rotate_refresh", err))?;
            return Ok(false);
        }
        // A failing insert drops the transaction, which rolls the use of `old` back.
        insert_tokens(&mut *tx, issued, "rotate_refresh").await?;
        tx.commit().await.map_err(|err| port_error("rotate_refresh", err))?;
        Ok(true)
    }

    async fn revoke_token(&self, digest: &KeyDigest, now: Timestamp) -> PortResult<bool> {
        let done = sqlx::query("UPDATE oauth_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE digest = $1")
            .bind(&digest.0[..])
            .bind(now.as_datetime())
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("revoke_token", err))?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> PortResult<()> {
        sqlx::query("UPDATE oauth_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now.as_datetime())
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("revoke_grant", err))?;
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp) -> PortResult<u64> {
        let row: (i64,) = sqlx::query_as(
            "WITH codes AS (DELETE FROM oauth_codes WHERE expires_at < $1 RETURNING 1), \
             tokens AS (DELETE FROM oauth_tokens WHERE expires_at < $1 RETURNING 1) \
             SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM tokens)",
        )
        .bind(before.as_datetime())
        .fetch_one(&self.pool)
        .await
        .map_err(|err| port_error("purge_expired", err))?;
        Ok(row.0.max(0) as u64)
    }
}
