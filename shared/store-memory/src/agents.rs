//! `MemoryAgentStore`: agents of every organization in one map, with the uniqueness rules of the
//! real schema (id unique; name unique per org among non-deleted agents).
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::RwLock;

use everruns_core::domain::{Agent, EntityStatus};
use everruns_core::ids::{AgentId, OrgId};
use everruns_core::ports::{AgentStore, ListQuery, Page, PortError, PortResult};

use crate::support::{matches, needle, paginate, read, write};

/// The in-memory [`AgentStore`].
#[derive(Debug, Default)]
pub struct MemoryAgentStore {
    rows: RwLock<HashMap<AgentId, Agent>>,
}

impl MemoryAgentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Fails with `Conflict` if a non-deleted agent of the org other than `except` has the name.
fn check_name(rows: &HashMap<AgentId, Agent>, agent: &Agent) -> PortResult<()> {
    if agent.status == EntityStatus::Deleted {
        return Ok(());
    }
    let taken = rows.values().any(|other| {
        other.org_id == agent.org_id
            && other.id != agent.id
            && other.status != EntityStatus::Deleted
            && other.name == agent.name
    });
    if taken {
        return Err(PortError::Conflict(format!("agent name '{}' already exists", agent.name)));
    }
    Ok(())
}

#[async_trait::async_trait]
impl AgentStore for MemoryAgentStore {
    async fn insert_agent(&self, agent: &Agent) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if rows.contains_key(&agent.id) {
            return Err(PortError::Conflict(format!("agent '{}' already exists", agent.id)));
        }
        check_name(&rows, agent)?;
        rows.insert(agent.id, agent.clone());
        Ok(())
    }

    async fn get_agent(&self, org: OrgId, id: AgentId) -> PortResult<Option<Agent>> {
        Ok(read(&self.rows)?.get(&id).filter(|a| a.org_id == org).cloned())
    }

    async fn get_agent_by_name(&self, org: OrgId, name: &str) -> PortResult<Option<Agent>> {
        let rows = read(&self.rows)?;
        Ok(rows.values().find(|a| a.org_id == org && a.status != EntityStatus::Deleted && a.name == name).cloned())
    }

    async fn update_agent(&self, agent: &Agent) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if rows.get(&agent.id).is_none_or(|stored| stored.org_id != agent.org_id) {
            return Err(PortError::not_found("agent", agent.id));
        }
        check_name(&rows, agent)?;
        rows.insert(agent.id, agent.clone());
        Ok(())
    }

    async fn list_agents(&self, org: OrgId, query: &ListQuery) -> PortResult<Page<Agent>> {
        let rows = read(&self.rows)?;
        let needle = needle(query.search.as_deref());
        let mut found: Vec<&Agent> = rows
            .values()
            .filter(|a| {
                a.org_id == org
                    && a.status != EntityStatus::Deleted
                    && (query.include_archived || a.status != EntityStatus::Archived)
                    && matches(needle.as_deref(), &[Some(&a.name), a.description.as_deref()])
            })
            .collect();
        found.sort_by_key(|a| Reverse((a.created_at, a.id)));
        Ok(paginate(&found, query.offset, query.limit))
    }
}
