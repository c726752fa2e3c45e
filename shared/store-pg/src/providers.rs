//! `PgProviderStore`: provider accounts (`providers`) and their models (`models`). A model has no
//! org of its own: it belongs to its provider's org, so every model statement joins or checks the
//! provider. `(provider_id, model_id)` is unique (`models_provider_model_key`) and deleting a
//! provider deletes its models (`ON DELETE CASCADE`). The sealed key is a `bytea` column that is
//! written and read, never logged.

use chrono::{DateTime, Utc};
use everruns_core::domain::{Model, Provider};
use everruns_core::driver_registry::{DriverId, ProviderMetadata};
use everruns_core::ids::{ModelId, OrgId, ProviderId};
use everruns_core::ports::{PortError, PortResult, ProviderStore};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::codec::{enum_text, parse_enum};
use crate::error::{Violation, corrupt, port_error, violation};

/// The provider columns every read returns, in [`ProviderRow`] order.
macro_rules! provider_columns {
    () => {
        "id, org_id, name, provider_type, status, api_key_set, api_key_encrypted, base_url, metadata, created_at, \
         updated_at"
    };
}

/// The model columns every read returns (qualified by `m.`), in [`ModelRow`] order.
macro_rules! model_columns {
    () => {
        "m.id, m.provider_id, m.model_id, m.display_name, m.capabilities, m.enabled, m.is_favorite, m.source, \
         m.created_at, m.updated_at"
    };
}

/// The Postgres [`ProviderStore`].
#[derive(Debug, Clone)]
pub struct PgProviderStore {
    pool: PgPool,
}

impl PgProviderStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
struct ProviderRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    provider_type: String,
    status: String,
    api_key_set: bool,
    api_key_encrypted: Option<Vec<u8>>,
    base_url: Option<String>,
    metadata: Option<Json<ProviderMetadata>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ProviderRow {
    fn into_provider(self) -> PortResult<Provider> {
        const OP: &str = "read provider";
        Ok(Provider {
            id: ProviderId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            name: self.name,
            provider_type: DriverId::parse(&self.provider_type).map_err(|err| corrupt(OP, err))?,
            status: parse_enum(OP, &self.status)?,
            api_key_set: self.api_key_set,
            api_key_encrypted: self.api_key_encrypted,
            base_url: self.base_url,
            metadata: self.metadata.map(|j| j.0),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    id: Uuid,
    provider_id: Uuid,
    model_id: String,
    display_name: String,
    capabilities: Json<Vec<String>>,
    enabled: bool,
    is_favorite: bool,
    source: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ModelRow {
    fn into_model(self) -> PortResult<Model> {
        Ok(Model {
            id: ModelId::from_uuid(self.id),
            provider_id: ProviderId::from_uuid(self.provider_id),
            model_id: self.model_id,
            display_name: self.display_name,
            capabilities: self.capabilities.0,
            enabled: self.enabled,
            is_favorite: self.is_favorite,
            source: parse_enum("read model", &self.source)?,
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
        })
    }
}

/// Maps a failed insert or update of `model`.
fn model_error(operation: &'static str, model: &Model, err: sqlx::Error) -> PortError {
    match violation(&err) {
        Some(Violation::Unique("models_pkey")) => PortError::Conflict(format!("model '{}' already exists", model.id)),
        Some(Violation::Unique("models_provider_model_key")) => PortError::Conflict(format!(
            "model '{}' already exists for provider '{}'",
            model.model_id, model.provider_id
        )),
        // The provider was deleted between the check and the write.
        Some(Violation::ForeignKey("models_provider_id_fkey")) => PortError::not_found("provider", model.provider_id),
        _ => port_error(operation, err),
    }
}

impl PgProviderStore {
    /// Whether the provider exists in the org.
    async fn provider_in(&self, operation: &'static str, org: OrgId, id: ProviderId) -> PortResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM providers WHERE id = $1 AND org_id = $2)")
            .bind(id.uuid())
            .bind(org.uuid())
            .fetch_one(&self.pool)
            .await
            .map_err(|err| port_error(operation, err))
    }
}

#[async_trait::async_trait]
impl ProviderStore for PgProviderStore {
    async fn insert_provider(&self, provider: &Provider) -> PortResult<()> {
        sqlx::query(concat!(
            "INSERT INTO providers (",
            provider_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(provider.id.uuid())
        .bind(provider.org_id.uuid())
        .bind(provider.name.as_str())
        .bind(provider.provider_type.as_str())
        .bind(enum_text(&provider.status))
        .bind(provider.api_key_set)
        .bind(provider.api_key_encrypted.as_deref())
        .bind(provider.base_url.as_deref())
        .bind(provider.metadata.as_ref().map(Json))
        .bind(provider.created_at.as_datetime())
        .bind(provider.updated_at.as_datetime())
        .execute(&self.pool)
        .await
        .map_err(|err| match violation(&err) {
            Some(Violation::Unique("providers_pkey")) => {
                PortError::Conflict(format!("provider '{}' already exists", provider.id))
            }
            _ => port_error("insert_provider", err),
        })?;
        Ok(())
    }

    async fn get_provider(&self, org: OrgId, id: ProviderId) -> PortResult<Option<Provider>> {
        sqlx::query_as::<_, ProviderRow>(concat!(
            "SELECT ",
            provider_columns!(),
            " FROM providers WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.uuid())
        .bind(org.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_provider", err))?
        .map(ProviderRow::into_provider)
        .transpose()
    }

    async fn update_provider(&self, provider: &Provider) -> PortResult<()> {
        let done = sqlx::query(
            "UPDATE providers SET name = $3, provider_type = $4, status = $5, api_key_set = $6, \
             api_key_encrypted = $7, base_url = $8, metadata = $9, created_at = $10, updated_at = $11 \
             WHERE id = $1 AND org_id = $2",
        )
        .bind(provider.id.uuid())
        .bind(provider.org_id.uuid())
        .bind(provider.name.as_str())
        .bind(provider.provider_type.as_str())
        .bind(enum_text(&provider.status))
        .bind(provider.api_key_set)
        .bind(provider.api_key_encrypted.as_deref())
        .bind(provider.base_url.as_deref())
        .bind(provider.metadata.as_ref().map(Json))
        .bind(provider.created_at.as_datetime())
        .bind(provider.updated_at.as_datetime())
        .execute(&self.pool)
        .await
        .map_err(|err| port_error("update_provider", err))?;
        if done.rows_affected() == 0 {
            return Err(PortError::not_found("provider", provider.id));
        }
        Ok(())
    }

    async fn delete_provider(&self, org: OrgId, id: ProviderId) -> PortResult<bool> {
        let done = sqlx::query("DELETE FROM providers WHERE id = $1 AND org_id = $2")
            .bind(id.uuid())
            .bind(org.uuid())
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("delete_provider", err))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_providers(&self, org: OrgId) -> PortResult<Vec<Provider>> {
        let rows = sqlx::query_as::<_, ProviderRow>(concat!(
            "SELECT ",
            provider_columns!(),
            " FROM providers WHERE org_id = $1 ORDER BY name COLLATE \"C\", id"
        ))
        .bind(org.uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_providers", err))?;
        rows.into_iter().map(ProviderRow::into_provider).collect()
    }

    async fn insert_model(&self, org: OrgId, model: &Model) -> PortResult<()> {
        // Inserted only if the provider is in the org; nothing inserted means it is not.
        let done = sqlx::query(
            "INSERT INTO models (id, provider_id, model_id, display_name, capabilities, enabled, is_favorite, source, \
             created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
             WHERE EXISTS (SELECT 1 FROM providers WHERE id = $2 AND org_id = $11)",
        )
        .bind(model.id.uuid())
        .bind(model.provider_id.uuid())
        .bind(model.model_id.as_str())
        .bind(model.display_name.as_str())
        .bind(Json(&model.capabilities))
        .bind(model.enabled)
        .bind(model.is_favorite)
        .bind(enum_text(&model.source))
        .bind(model.created_at.as_datetime())
        .bind(model.updated_at.as_datetime())
        .bind(org.uuid())
        .execute(&self.pool)
        .await
        .map_err(|err| model_error("insert_model", model, err))?;
        if done.rows_affected() == 0 {
            return Err(PortError::not_found("provider", model.provider_id));
        }
        Ok(())
    }

    async fn get_model(&self, org: OrgId, id: ModelId) -> PortResult<Option<Model>> {
        sqlx::query_as::<_, ModelRow>(concat!(
            "SELECT ",
            model_columns!(),
            " FROM models m JOIN providers p ON p.id = m.provider_id WHERE m.id = $1 AND p.org_id = $2"
        ))
        .bind(id.uuid())
        .bind(org.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_model", err))?
        .map(ModelRow::into_model)
        .transpose()
    }

    async fn update_model(&self, org: OrgId, model: &Model) -> PortResult<()> {
        // Updated only if the stored model's provider and the new provider are both in the org.
        let done = sqlx::query(
            "UPDATE models m SET provider_id = $2, model_id = $3, display_name = $4, capabilities = $5, \
             enabled = $6, is_favorite = $7, source = $8, created_at = $9, updated_at = $10 \
             FROM providers p WHERE m.id = $1 AND p.id = m.provider_id AND p.org_id = $11 \
             AND EXISTS (SELECT 1 FROM providers np WHERE np.id = $2 AND np.org_id = $11)",
        )
        .bind(model.id.uuid())
        .bind(model.provider_id.uuid())
        .bind(model.model_id.as_str())
        .bind(model.display_name.as_str())
        .bind(Json(&model.capabilities))
        .bind(model.enabled)
        .bind(model.is_favorite)
        .bind(enum_text(&model.source))
        .bind(model.created_at.as_datetime())
        .bind(model.updated_at.as_datetime())
        .bind(org.uuid())
        .execute(&self.pool)
        .await
        .map_err(|err| model_error("update_model", model, err))?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        // Nothing matched: say which of the two was missing (the model first, as the memory store).
        if self.get_model(org, model.id).await?.is_none() {
            return Err(PortError::not_found("model", model.id));
        }
        if !self.provider_in("update_model", org, model.provider_id).await? {
            return Err(PortError::not_found("provider", model.provider_id));
        }
        Err(PortError::Conflict(format!("model '{}' changed concurrently; retry", model.id)))
    }

    async fn delete_model(&self, org: OrgId, id: ModelId) -> PortResult<bool> {
        let done = sqlx::query(
            "DELETE FROM models m USING providers p WHERE m.id = $1 AND p.id = m.provider_id AND p.org_id = $2",
        )
        .bind(id.uuid())
        .bind(org.uuid())
        .execute(&self.pool)
        .await
        .map_err(|err| port_error("delete_model", err))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_models(&self, org: OrgId, provider: Option<ProviderId>) -> PortResult<Vec<Model>> {
        let rows = sqlx::query_as::<_, ModelRow>(concat!(
            "SELECT ",
            model_columns!(),
            " FROM models m JOIN providers p ON p.id = m.provider_id \
             WHERE p.org_id = $1 AND ($2::uuid IS NULL OR m.provider_id = $2) \
             ORDER BY m.display_name COLLATE \"C\", m.id"
        ))
        .bind(org.uuid())
        .bind(provider.map(|p| p.uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_models", err))?;
        rows.into_iter().map(ModelRow::into_model).collect()
    }

    async fn default_model(&self, org: OrgId) -> PortResult<Option<ModelId>> {
        // The join keeps a model that moved to another org's provider from answering.
        let id: Option<Uuid> = sqlx::query_scalar(
            "SELECT s.default_model_id FROM organization_settings s \
             JOIN models m ON m.id = s.default_model_id JOIN providers p ON p.id = m.provider_id \
             WHERE s.org_id = $1 AND p.org_id = $1",
        )
        .bind(org.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("default_model", err))?;
        Ok(id.map(ModelId::from_uuid))
    }

    async fn set_default_model(&self, org: OrgId, model: Option<ModelId>) -> PortResult<()> {
        // Written only if the model is in the org (or the default is being unset).
        let done = sqlx::query(
            "INSERT INTO organization_settings (org_id, default_model_id, updated_at) \
             SELECT $1, $2, now() WHERE $2::uuid IS NULL OR EXISTS (SELECT 1 FROM models m \
             JOIN providers p ON p.id = m.provider_id WHERE m.id = $2 AND p.org_id = $1) \
             ON CONFLICT (org_id) DO UPDATE SET default_model_id = EXCLUDED.default_model_id, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(org.uuid())
        .bind(model.map(|m| m.uuid()))
        .execute(&self.pool)
        .await
        .map_err(|err| match (violation(&err), model) {
            // The model was deleted between the check and the write.
            (Some(Violation::ForeignKey("organization_settings_default_model_id_fkey")), Some(id)) => {
                PortError::not_found("model", id)
            }
            _ => port_error("set_default_model", err),
        })?;
        match model {
            Some(id) if done.rows_affected() == 0 => Err(PortError::not_found("model", id)),
            _ => Ok(()),
        }
    }
}
