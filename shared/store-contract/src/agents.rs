//! The `AgentStore` contract: org scoping, id and name conflicts (deleted agents free their
//! name), updates, listing newest first with search, archived rows and pagination.

use everruns_core::domain::{Agent, EntityStatus};
use everruns_core::ids::{AgentId, HarnessId, OrgId};
use everruns_core::ports::{ListQuery, Stores};
use everruns_core::time::Timestamp;

use crate::fixtures::{assert_conflict, assert_not_found, at, fresh_org, seed_harness};

fn agent(org: OrgId, harness: HarnessId, name: &str, created_at: Timestamp) -> Agent {
    Agent { org_id: org, created_at, updated_at: created_at, ..Agent::new(name, "You help.", harness) }
}

fn names(agents: &[Agent]) -> Vec<&str> {
    agents.iter().map(|a| a.name.as_str()).collect()
}

/// Checks an [`AgentStore`](everruns_core::ports::AgentStore) (the stores are needed to create the harness agents point to).
pub async fn agent_store_contract(stores: &Stores) {
    let store = stores.agents.as_ref();
    let org = fresh_org();
    let other_org = fresh_org();
    let harness = seed_harness(stores, org, "base").await.id;
    let other_harness = seed_harness(stores, other_org, "base").await.id;
    let base = Timestamp::now().millis();

    // Insert and read back, scoped to the org.
    let mut alpha = agent(org, harness, "alpha", at(base, 1));
    alpha.description = Some("Writes HAIKU poems".to_owned());
    alpha.tags = vec!["poetry".to_owned()];
    store.insert_agent(&alpha).await.unwrap();
    assert_eq!(store.get_agent(org, alpha.id).await.unwrap(), Some(alpha.clone()));
    assert_eq!(store.get_agent(other_org, alpha.id).await.unwrap(), None, "another org's agent is not found");
    assert_eq!(store.get_agent(org, AgentId::new()).await.unwrap(), None);
    assert_eq!(store.get_agent_by_name(org, "alpha").await.unwrap(), Some(alpha.clone()));
    assert_eq!(store.get_agent_by_name(other_org, "alpha").await.unwrap(), None);
    assert_eq!(store.get_agent_by_name(org, "ALPHA").await.unwrap(), None, "names match exactly");

    // Conflicts: same id, same name in the org. The same name in another org is fine.
    let mut same_id = agent(org, harness, "other-name", at(base, 2));
    same_id.id = alpha.id;
    assert_conflict(store.insert_agent(&same_id).await, "already exists");
    assert_conflict(store.insert_agent(&agent(org, harness, "alpha", at(base, 2))).await, "'alpha'");
    let foreign = agent(other_org, other_harness, "alpha", at(base, 2));
    store.insert_agent(&foreign).await.unwrap();

    // Updates: persisted, NotFound when absent or in another org, Conflict on a taken name.
    let beta = agent(org, harness, "beta", at(base, 3));
    store.insert_agent(&beta).await.unwrap();
    let mut renamed = beta.clone();
    renamed.name = "alpha".to_owned();
    assert_conflict(store.update_agent(&renamed).await, "agent name 'alpha' already exists");
    renamed.name = "beta-2".to_owned();
    renamed.system_prompt = "Updated.".to_owned();
    store.update_agent(&renamed).await.unwrap();
    assert_eq!(store.get_agent(org, beta.id).await.unwrap(), Some(renamed.clone()));
    assert_eq!(store.get_agent_by_name(org, "beta").await.unwrap(), None, "the old name is free");
    let unknown = agent(org, harness, "ghost", at(base, 4));
    assert_not_found(store.update_agent(&unknown).await, "agent");
    let mut wrong_org = renamed.clone();
    wrong_org.org_id = other_org;
    assert_not_found(store.update_agent(&wrong_org).await, "agent");
    let mut keep_name = renamed.clone();
    keep_name.description = Some("same name, new description".to_owned());
    store.update_agent(&keep_name).await.unwrap();

    // Archived: hidden from lists unless asked, still found by name, still holds its name.
    let mut gamma = agent(org, harness, "gamma", at(base, 5));
    gamma.description = Some("Reviews code".to_owned());
    store.insert_agent(&gamma).await.unwrap();
    let archived = Agent { status: EntityStatus::Archived, archived_at: Some(at(base, 6)), ..gamma.clone() };
    store.update_agent(&archived).await.unwrap();
    assert_eq!(store.get_agent_by_name(org, "gamma").await.unwrap(), Some(archived.clone()));
    assert_conflict(store.insert_agent(&agent(org, harness, "gamma", at(base, 7))).await, "'gamma'");

    // Deleted: frees the name, hidden from lists and by-name reads, still readable by id.
    let deleted = Agent { status: EntityStatus::Deleted, deleted_at: Some(at(base, 8)), ..alpha.clone() };
    store.update_agent(&deleted).await.unwrap();
    assert_eq!(store.get_agent_by_name(org, "alpha").await.unwrap(), None);
    assert_eq!(store.get_agent(org, alpha.id).await.unwrap().map(|a| a.status), Some(EntityStatus::Deleted));
    let alpha_again = agent(org, harness, "alpha", at(base, 9));
    store.insert_agent(&alpha_again).await.unwrap();
    assert_eq!(store.get_agent_by_name(org, "alpha").await.unwrap(), Some(alpha_again.clone()));
    let mut revived = deleted.clone();
    revived.status = EntityStatus::Active;
    assert_conflict(store.update_agent(&revived).await, "'alpha'");

    // Listing: newest first (created_at, then id), org-scoped, archived on request.
    let default_query = ListQuery::default();
    let page = store.list_agents(org, &default_query).await.unwrap();
    assert_eq!(names(&page.items), ["alpha", "beta-2"]);
    assert_eq!(page.total, 2);
    let with_archived = ListQuery { include_archived: true, ..ListQuery::default() };
    let page = store.list_agents(org, &with_archived).await.unwrap();
    assert_eq!(names(&page.items), ["alpha", "gamma", "beta-2"]);
    assert_eq!(page.total, 3);
    let page = store.list_agents(other_org, &with_archived).await.unwrap();
    assert_eq!(page.items, vec![foreign.clone()]);

    // Same created_at: the greater id comes first.
    let tie_org = fresh_org();
    let tie_harness = seed_harness(stores, tie_org, "base").await.id;
    let first = agent(tie_org, tie_harness, "tie-a", at(base, 1));
    let second = agent(tie_org, tie_harness, "tie-b", at(base, 1));
    store.insert_agent(&second).await.unwrap();
    store.insert_agent(&first).await.unwrap();
    let ids: Vec<AgentId> =
        store.list_agents(tie_org, &default_query).await.unwrap().items.iter().map(|a| a.id).collect();
    let mut expected = vec![first.id, second.id];
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, expected);

    // Search: case-insensitive substring of name or description.
    let search =
        |text: &str| ListQuery { search: Some(text.to_owned()), include_archived: true, ..ListQuery::default() };
    assert_eq!(names(&store.list_agents(org, &search("BETA")).await.unwrap().items), ["beta-2"]);
    assert_eq!(names(&store.list_agents(org, &search("code")).await.unwrap().items), ["gamma"]);
    assert_eq!(names(&store.list_agents(org, &search("NEW desc")).await.unwrap().items), ["beta-2"]);
    assert_eq!(store.list_agents(org, &search("haiku")).await.unwrap().total, 0, "deleted rows never match");
    assert_eq!(store.list_agents(org, &search("zzz")).await.unwrap().total, 0);

    // Pagination: offset/limit cut the page, total counts every match.
    let paged = ListQuery { include_archived: true, offset: 1, limit: 1, ..ListQuery::default() };
    let page = store.list_agents(org, &paged).await.unwrap();
    assert_eq!(names(&page.items), ["gamma"]);
    assert_eq!(page.total, 3);
    let past_end = ListQuery { include_archived: true, offset: 10, limit: 5, ..ListQuery::default() };
    let page = store.list_agents(org, &past_end).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.total, 3);
}
