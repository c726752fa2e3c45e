//! Startup reconciliation of built-in harnesses: each template of the platform definition becomes
//! (or updates) a read-only harness of the org, matched by name; capabilities the platform does
//! not provide are dropped; parents are linked by template name. Roles decide which harness is
//! the base, the default and the chat harness.

use crate::capabilities::DeploymentGrade;
use crate::domain::{EntityStatus, Harness};
use crate::harness_templates::BuiltInHarnessRole;
use crate::ids::OrgId;
use crate::platform::PlatformDefinition;
use crate::ports::{HarnessStore, ListQuery, PortResult};
use crate::time::Timestamp;

/// Creates or updates the org's built-in harnesses from the platform's templates; returns them.
pub async fn reconcile_built_in_harnesses(
    store: &dyn HarnessStore,
    org: OrgId,
    platform: &PlatformDefinition,
    grade: DeploymentGrade,
) -> PortResult<Vec<Harness>> {
    let capabilities = platform.capability_registry();
    let mut reconciled: Vec<Harness> = Vec::new();
    for template in platform.built_in_harnesses() {
        let existing = store.get_harness_by_name(org, &template.name).await?;
        let mut harness = existing.clone().unwrap_or_else(|| Harness::new(template.name.clone(), None));
        harness.org_id = org;
        harness.display_name = Some(template.display_name.clone());
        harness.description = Some(template.description.clone());
        harness.system_prompt = Some(template.system_prompt.clone());
        harness.tags = template.tags.clone();
        harness.roles = template.roles.clone();
        harness.is_built_in = true;
        harness.status = EntityStatus::Active;
        harness.capabilities = template
            .capabilities
            .iter()
            .filter(|c| capabilities.is_visible(&c.id, grade))
            .map(|c| c.to_ref())
            .collect();
        harness.updated_at = Timestamp::now();
        match existing {
            Some(_) => store.update_harness(&harness).await?,
            None => store.insert_harness(&harness).await?,
        }
        reconciled.push(harness);
    }
    // Link parents once every template exists.
    for template in platform.built_in_harnesses() {
        let parent = template.parent.as_ref().and_then(|p| reconciled.iter().find(|h| &h.name == p)).map(|h| h.id);
        if let Some(harness) = reconciled.iter_mut().find(|h| h.name == template.name)
            && harness.parent_harness_id != parent
        {
            harness.parent_harness_id = parent;
            store.update_harness(harness).await?;
        }
    }
    Ok(reconciled)
}

/// The org's active built-in harness with the role, if any.
pub async fn harness_with_role(
    store: &dyn HarnessStore,
    org: OrgId,
    role: BuiltInHarnessRole,
) -> PortResult<Option<Harness>> {
    let all = store.list_harnesses(org, &ListQuery { limit: 1000, ..ListQuery::default() }).await?;
    Ok(all.items.into_iter().find(|h| h.is_built_in && h.roles.contains(&role) && h.status == EntityStatus::Active))
}
