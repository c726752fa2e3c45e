//! `MemoryHarnessStore`: harnesses of every organization in one map, with the uniqueness rules of
//! the real schema (id unique; name unique per org among non-deleted harnesses).
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::HashMap;
use std::sync::RwLock;

use everruns_core::domain::{EntityStatus, Harness};
use everruns_core::ids::{HarnessId, OrgId};
use everruns_core::ports::{HarnessStore, ListQuery, Page, PortError, PortResult};

use crate::support::{matches, needle, paginate, read, write};

/// The in-memory [`HarnessStore`].
#[derive(Debug, Default)]
pub struct MemoryHarnessStore {
    rows: RwLock<HashMap<HarnessId, Harness>>,
}

impl MemoryHarnessStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Fails with `Conflict` if a non-deleted harness of the org other than `except` has the name.
fn check_name(rows: &HashMap<HarnessId, Harness>, harness: &Harness) -> PortResult<()> {
    if harness.status == EntityStatus::Deleted {
        return Ok(());
    }
    let taken = rows.values().any(|other| {
        other.org_id == harness.org_id
            && other.id != harness.id
            && other.status != EntityStatus::Deleted
            && other.name == harness.name
    });
    if taken {
        return Err(PortError::Conflict(format!("harness name '{}' already exists", harness.name)));
    }
    Ok(())
}

#[async_trait::async_trait]
impl HarnessStore for MemoryHarnessStore {
    async fn insert_harness(&self, harness: &Harness) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if rows.contains_key(&harness.id) {
            return Err(PortError::Conflict(format!("harness '{}' already exists", harness.id)));
        }
        check_name(&rows, harness)?;
        rows.insert(harness.id, harness.clone());
        Ok(())
    }

    async fn get_harness(&self, org: OrgId, id: HarnessId) -> PortResult<Option<Harness>> {
        Ok(read(&self.rows)?.get(&id).filter(|a| a.org_id == org).cloned())
    }

    async fn get_harness_by_name(&self, org: OrgId, name: &str) -> PortResult<Option<Harness>> {
        let rows = read(&self.rows)?;
        Ok(rows.values().find(|a| a.org_id == org && a.status != EntityStatus::Deleted && a.name == name).cloned())
    }

    async fn update_harness(&self, harness: &Harness) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if rows.get(&harness.id).is_none_or(|stored| stored.org_id != harness.org_id) {
            return Err(PortError::not_found("harness", harness.id));
        }
        check_name(&rows, harness)?;
        rows.insert(harness.id, harness.clone());
        Ok(())
    }

    async fn list_harnesses(&self, org: OrgId, query: &ListQuery) -> PortResult<Page<Harness>> {
        let rows = read(&self.rows)?;
        let needle = needle(query.search.as_deref());
        let mut found: Vec<&Harness> = rows
            .values()
            .filter(|a| {
                a.org_id == org
                    && a.status != EntityStatus::Deleted
                    && (query.include_archived || a.status != EntityStatus::Archived)
                    && matches(needle.as_deref(), &[Some(&a.name), a.description.as_deref()])
            })
            .collect();
        found.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(paginate(&found, query.offset, query.limit))
    }
}
