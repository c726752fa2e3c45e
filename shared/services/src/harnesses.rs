//! Harness rules: slug names unique per org, lookup by id or name, built-ins read-only, archive
//! on delete, `parent_harness_id: null` removes inheritance (absent leaves it).

use std::collections::BTreeMap;

use everruns_core::domain::{EntityStatus, Harness, InitialFile, NetworkAccessList};
use everruns_core::ids::{HarnessId, OrgId};
use everruns_core::ports::ListQuery;
use everruns_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::App;
use crate::agents::{CapabilityRefInput, resolve_model, validate_capabilities};
use crate::error::{ServiceError, ServiceResult};
use crate::input::double_option;
use crate::{is_name, validate_name};

/// Fields of `POST /v1/harnesses` and (all optional) `PATCH`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HarnessInput {
    /// Slug.
    pub name: Option<String>,
    /// UI label.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Base prompt.
    pub system_prompt: Option<String>,
    /// Parent: absent = unchanged, `null` = none.
    #[serde(default, deserialize_with = "double_option")]
    pub parent_harness_id: Option<Option<String>>,
    /// Default model.
    pub default_model_id: Option<String>,
    /// Capabilities.
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    /// Files.
    pub initial_files: Option<Vec<InitialFile>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Network access.
    pub network_access: Option<NetworkAccessList>,
    /// Parallel tool calls.
    pub parallel_tool_calls: Option<bool>,
    /// MCP servers.
    #[serde(rename = "mcpServers", alias = "mcp_servers")]
    pub mcp_servers: Option<Value>,
    /// Metadata for LLM requests.
    pub embedder_metadata: Option<BTreeMap<String, String>>,
    /// Status (PATCH only).
    pub status: Option<EntityStatus>,
}

/// Finds a harness by id or name.
pub async fn find(state: &App, org: OrgId, id_or_name: &str) -> ServiceResult<Harness> {
    let found = if let Ok(id) = HarnessId::parse(id_or_name) {
        state.stores.harnesses.get_harness(org, id).await?
    } else if is_name(id_or_name) {
        state.stores.harnesses.get_harness_by_name(org, id_or_name).await?
    } else {
        HarnessId::parse(id_or_name)?;
        None
    };
    found.filter(|h| h.status != EntityStatus::Deleted).ok_or_else(|| ServiceError::not_found("harness", id_or_name))
}

/// Lists harnesses.
pub async fn list(
    state: &App,
    org: OrgId,
    search: Option<String>,
    include_archived: bool,
) -> ServiceResult<Vec<Harness>> {
    let query = ListQuery { search, include_archived, offset: 0, limit: 1000 };
    Ok(state.stores.harnesses.list_harnesses(org, &query).await?.items)
}

/// Creates a harness.
pub async fn create(state: &App, org: OrgId, input: HarnessInput) -> ServiceResult<Harness> {
    let name = input.name.clone().ok_or_else(|| ServiceError::bad_request("name is required"))?;
    validate_name("harness", &name)?;
    let mut harness = Harness::new(name, None);
    harness.org_id = org;
    let harness = apply(state, org, harness, input).await?;
    state.stores.harnesses.insert_harness(&harness).await?;
    Ok(harness)
}

/// Updates a user harness (built-ins are read-only).
pub async fn patch(state: &App, org: OrgId, id_or_name: &str, input: HarnessInput) -> ServiceResult<Harness> {
    let harness = find(state, org, id_or_name).await?;
    if harness.is_built_in {
        return Err(ServiceError::Forbidden(format!(
            "harness '{}' is built in and read-only; copy it to edit",
            harness.name
        )));
    }
    if let Some(name) = &input.name {
        validate_name("harness", name)?;
    }
    let harness = apply(state, org, harness, input).await?;
    state.stores.harnesses.update_harness(&harness).await?;
    Ok(harness)
}

/// Archives a user harness.
pub async fn archive(state: &App, org: OrgId, id_or_name: &str) -> ServiceResult<()> {
    let mut harness = find(state, org, id_or_name).await?;
    if harness.is_built_in {
        return Err(ServiceError::Forbidden(format!("harness '{}' is built in and cannot be deleted", harness.name)));
    }
    if harness.status == EntityStatus::Active {
        harness.status = EntityStatus::Archived;
        harness.archived_at = Some(Timestamp::now());
        harness.updated_at = Timestamp::now();
        state.stores.harnesses.update_harness(&harness).await?;
    }
    Ok(())
}

async fn apply(state: &App, org: OrgId, mut harness: Harness, input: HarnessInput) -> ServiceResult<Harness> {
    if let Some(parent) = input.parent_harness_id {
        harness.parent_harness_id = match parent {
            None => None,
            Some(text) => {
                let parent = find(state, org, &text).await?;
                if parent.id == harness.id {
                    return Err(ServiceError::bad_request("a harness cannot be its own parent"));
                }
                // Walk up from the new parent: meeting this harness again would close a cycle.
                let mut next = parent.parent_harness_id;
                let mut depth = 0;
                while let Some(id) = next {
                    depth += 1;
                    if id == harness.id || depth > 32 {
                        return Err(ServiceError::bad_request(
                            "parent_harness_id would make the harness its own ancestor (a cycle)",
                        ));
                    }
                    next = state.stores.harnesses.get_harness(org, id).await?.and_then(|h| h.parent_harness_id);
                }
                Some(parent.id)
            }
        };
    }
    if input.default_model_id.is_some() {
        harness.default_model_id = resolve_model(state, org, input.default_model_id.as_deref()).await?;
    }
    if let Some(caps) = input.capabilities {
        harness.capabilities = validate_capabilities(state, caps)?;
    }
    if let Some(name) = input.name {
        harness.name = name;
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if input.$field.is_some() { harness.$field = input.$field; } )* };
    }
    set!(display_name, description, system_prompt, network_access, parallel_tool_calls, mcp_servers, embedder_metadata);
    if let Some(files) = input.initial_files {
        harness.initial_files = files;
    }
    if let Some(tags) = input.tags {
        harness.tags = tags;
    }
    if let Some(status) = input.status {
        harness.archived_at = (status == EntityStatus::Archived).then(Timestamp::now);
        harness.status = status;
    }
    harness.updated_at = Timestamp::now();
    Ok(harness)
}
