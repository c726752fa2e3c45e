//! The `HarnessStore` contract: org scoping, id and name conflicts (deleted harnesses free their
//! name), updates, listing by name with search, archived rows and pagination.

use everruns_core::domain::{EntityStatus, Harness};
use everruns_core::ids::{HarnessId, OrgId};
use everruns_core::ports::{HarnessStore, ListQuery};

use crate::fixtures::{assert_conflict, assert_not_found, fresh_org};

fn harness(org: OrgId, name: &str) -> Harness {
    Harness { org_id: org, ..Harness::new(name, Some("Be brief.".to_owned())) }
}

fn names(harnesses: &[Harness]) -> Vec<&str> {
    harnesses.iter().map(|h| h.name.as_str()).collect()
}

/// Checks a [`HarnessStore`].
pub async fn harness_store_contract(store: &dyn HarnessStore) {
    let org = fresh_org();
    let other_org = fresh_org();

    // Insert and read back, scoped to the org.
    let mut parent = harness(org, "parent");
    parent.description = Some("The BASE layer".to_owned());
    store.insert_harness(&parent).await.unwrap();
    let mut child = harness(org, "child");
    child.parent_harness_id = Some(parent.id);
    child.is_built_in = true;
    store.insert_harness(&child).await.unwrap();
    assert_eq!(store.get_harness(org, child.id).await.unwrap(), Some(child.clone()));
    assert_eq!(store.get_harness(other_org, child.id).await.unwrap(), None, "another org's harness is not found");
    assert_eq!(store.get_harness(org, HarnessId::new()).await.unwrap(), None);
    assert_eq!(store.get_harness_by_name(org, "parent").await.unwrap(), Some(parent.clone()));
    assert_eq!(store.get_harness_by_name(other_org, "parent").await.unwrap(), None);

    // Conflicts: same id, same name in the org. The same name in another org is fine.
    let mut same_id = harness(org, "fresh-name");
    same_id.id = parent.id;
    assert_conflict(store.insert_harness(&same_id).await, "already exists");
    assert_conflict(store.insert_harness(&harness(org, "parent")).await, "'parent'");
    let foreign = harness(other_org, "parent");
    store.insert_harness(&foreign).await.unwrap();

    // Updates.
    let mut renamed = child.clone();
    renamed.name = "parent".to_owned();
    assert_conflict(store.update_harness(&renamed).await, "harness name 'parent' already exists");
    renamed.name = "middle".to_owned();
    renamed.system_prompt = None;
    store.update_harness(&renamed).await.unwrap();
    assert_eq!(store.get_harness(org, child.id).await.unwrap(), Some(renamed.clone()));
    assert_not_found(store.update_harness(&harness(org, "ghost")).await, "harness");
    let wrong_org = Harness { org_id: other_org, ..renamed.clone() };
    assert_not_found(store.update_harness(&wrong_org).await, "harness");

    // Archived: hidden from lists unless asked, still found by name, still holds its name.
    let zeta = harness(org, "zeta");
    store.insert_harness(&zeta).await.unwrap();
    let archived = Harness { status: EntityStatus::Archived, ..zeta.clone() };
    store.update_harness(&archived).await.unwrap();
    assert_eq!(store.get_harness_by_name(org, "zeta").await.unwrap(), Some(archived.clone()));
    assert_conflict(store.insert_harness(&harness(org, "zeta")).await, "'zeta'");

    // Deleted: frees the name, still readable by id.
    let doomed = harness(org, "doomed");
    store.insert_harness(&doomed).await.unwrap();
    let deleted = Harness { status: EntityStatus::Deleted, ..doomed.clone() };
    store.update_harness(&deleted).await.unwrap();
    assert_eq!(store.get_harness_by_name(org, "doomed").await.unwrap(), None);
    assert_eq!(store.get_harness(org, doomed.id).await.unwrap().map(|h| h.status), Some(EntityStatus::Deleted));
    let doomed_again = harness(org, "doomed");
    store.insert_harness(&doomed_again).await.unwrap();
    assert_eq!(store.get_harness_by_name(org, "doomed").await.unwrap(), Some(doomed_again.clone()));

    // Listing: by name, org-scoped, archived on request.
    let page = store.list_harnesses(org, &ListQuery::default()).await.unwrap();
    assert_eq!(names(&page.items), ["doomed", "middle", "parent"]);
    assert_eq!(page.total, 3);
    let with_archived = ListQuery { include_archived: true, ..ListQuery::default() };
    let page = store.list_harnesses(org, &with_archived).await.unwrap();
    assert_eq!(names(&page.items), ["doomed", "middle", "parent", "zeta"]);
    assert_eq!(store.list_harnesses(other_org, &with_archived).await.unwrap().items, vec![foreign]);

    // Search: case-insensitive substring of name or description.
    let search =
        |text: &str| ListQuery { search: Some(text.to_owned()), include_archived: true, ..ListQuery::default() };
    assert_eq!(names(&store.list_harnesses(org, &search("base layer")).await.unwrap().items), ["parent"]);
    assert_eq!(
        names(&store.list_harnesses(org, &search("E")).await.unwrap().items),
        ["doomed", "middle", "parent", "zeta"]
    );
    assert_eq!(names(&store.list_harnesses(org, &search("ZET")).await.unwrap().items), ["zeta"]);

    // Pagination.
    let paged = ListQuery { include_archived: true, offset: 2, limit: 1, ..ListQuery::default() };
    let page = store.list_harnesses(org, &paged).await.unwrap();
    assert_eq!(names(&page.items), ["parent"]);
    assert_eq!(page.total, 4);
}
