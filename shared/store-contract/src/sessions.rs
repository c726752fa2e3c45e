//! The `SessionStore` contract: org scoping, id conflicts, updates that touch only the editable
//! fields, listing newest first with filters, the conditional status change, and deletes that
//! cascade to the session's events and files.

use everruns_core::domain::{AgentCapabilityConfig, Session, SessionStatus, TokenUsage};
use everruns_core::ids::{AgentId, SessionId, TurnId};
use everruns_core::ports::{EventFilter, SessionFile, SessionFilter, StatusChange, Stores};
use everruns_core::time::Timestamp;

use crate::fixtures::{
    activated, assert_conflict, assert_not_found, at, compacting, fresh_org, seed_harness, seed_session,
};

fn usage(input: u64, output: u64, cache_read: Option<u64>) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_creation_tokens: None,
    }
}

fn titles(sessions: &[Session]) -> Vec<Option<&str>> {
    sessions.iter().map(|s| s.title.as_deref()).collect()
}

/// Checks a [`SessionStore`](everruns_core::ports::SessionStore) (with the event and file stores
/// its deletes cascade to).
pub async fn session_store_contract(stores: &Stores) {
    crud(stores).await;
    listing(stores).await;
    status_changes(stores).await;
    deletes(stores).await;
    settled_deletes(stores).await;
    reads_with_events(stores).await;
}

async fn crud(stores: &Stores) {
    let store = stores.sessions.as_ref();
    let session = seed_session(stores).await;
    let org = session.organization_id;
    assert_eq!(store.get_session(org, session.id).await.unwrap(), Some(session.clone()));
    assert_eq!(store.get_session(fresh_org(), session.id).await.unwrap(), None, "another org's session is not found");
    assert_eq!(store.get_session(org, SessionId::new()).await.unwrap(), None);
    assert_conflict(store.insert_session(&session).await, "already exists");

    // update_session replaces the editable fields only; status, turn, usage and previews stay.
    let mut edited = session.clone();
    edited.title = Some("Renamed".to_owned());
    edited.locale = Some("de-DE".to_owned());
    edited.tags = vec!["a".to_owned(), "b".to_owned()];
    edited.system_prompt = Some("Session layer.".to_owned());
    edited.capabilities = vec![AgentCapabilityConfig::new("current_time")];
    edited.max_iterations = Some(7);
    edited.status = SessionStatus::Active;
    edited.current_turn_id = Some(TurnId::new());
    edited.usage = Some(usage(5, 5, None));
    edited.preview = Some("not editable".to_owned());
    store.update_session(&edited).await.unwrap();
    let stored = store.get_session(org, session.id).await.unwrap().unwrap();
    assert_eq!(stored.title.as_deref(), Some("Renamed"));
    assert_eq!(stored.locale.as_deref(), Some("de-DE"));
    assert_eq!(stored.tags, edited.tags);
    assert_eq!(stored.system_prompt, edited.system_prompt);
    assert_eq!(stored.capabilities, edited.capabilities);
    assert_eq!(stored.max_iterations, Some(7));
    assert_eq!(stored.status, SessionStatus::Started, "update_session must not change the status");
    assert_eq!(stored.current_turn_id, None);
    assert_eq!(stored.usage, None);
    assert_eq!(stored.preview, None);
    assert_eq!(stored.created_at, session.created_at);
    assert!(stored.updated_at >= session.updated_at);

    assert_not_found(store.update_session(&Session::new(org, session.harness_id)).await, "session");
    let wrong_org = Session { organization_id: fresh_org(), ..edited };
    assert_not_found(store.update_session(&wrong_org).await, "session");
}

async fn listing(stores: &Stores) {
    let store = stores.sessions.as_ref();
    let org = fresh_org();
    let harness = seed_harness(stores, org, "base").await.id;
    let agent = AgentId::new();
    let base = Timestamp::now().millis();
    let make = |title: Option<&str>, seconds: i64, agent_id: Option<AgentId>| Session {
        title: title.map(str::to_owned),
        agent_id,
        created_at: at(base, seconds),
        updated_at: at(base, seconds),
        ..Session::new(org, harness)
    };
    for session in [
        make(Some("Weather in Paris"), 1, Some(agent)),
        make(None, 2, None),
        make(Some("paris trip"), 3, None),
        make(Some("Budget"), 4, Some(agent)),
    ] {
        store.insert_session(&session).await.unwrap();
    }
    let elsewhere = seed_session(stores).await;

    let all = store.list_sessions(org, &SessionFilter::default()).await.unwrap();
    assert_eq!(titles(&all.items), [Some("Budget"), Some("paris trip"), None, Some("Weather in Paris")]);
    assert_eq!(all.total, 4, "limit 0 means the default page, and other orgs are not counted");
    assert!(all.items.iter().all(|s| s.id != elsewhere.id));

    let by_agent = SessionFilter { agent_id: Some(agent), ..SessionFilter::default() };
    let page = store.list_sessions(org, &by_agent).await.unwrap();
    assert_eq!(titles(&page.items), [Some("Budget"), Some("Weather in Paris")]);

    let search = SessionFilter { search: Some("PARIS".to_owned()), ..SessionFilter::default() };
    let page = store.list_sessions(org, &search).await.unwrap();
    assert_eq!(titles(&page.items), [Some("paris trip"), Some("Weather in Paris")]);
    assert_eq!(page.total, 2);

    let both = SessionFilter { agent_id: Some(agent), search: Some("paris".to_owned()), ..SessionFilter::default() };
    assert_eq!(titles(&store.list_sessions(org, &both).await.unwrap().items), [Some("Weather in Paris")]);

    let paged = SessionFilter { offset: 1, limit: 2, ..SessionFilter::default() };
    let page = store.list_sessions(org, &paged).await.unwrap();
    assert_eq!(titles(&page.items), [Some("paris trip"), None]);
    assert_eq!(page.total, 4);
}

async fn status_changes(stores: &Stores) {
    let store = stores.sessions.as_ref();
    let session = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    let (turn, next_turn) = (TurnId::new(), TurnId::new());

    // First activation: status, turn, usage, preview, started_at.
    let activate = StatusChange {
        expect: vec![SessionStatus::Started, SessionStatus::Idle],
        to: SessionStatus::Active,
        turn: Some(turn),
        add_usage: Some(usage(10, 2, None)),
        preview: Some("hello".to_owned()),
        ..StatusChange::default()
    };
    let active = store.change_status(org, id, activate.clone()).await.unwrap().unwrap();
    assert_eq!(active.status, SessionStatus::Active);
    assert_eq!(active.current_turn_id, Some(turn));
    assert_eq!(active.usage, Some(usage(10, 2, None)));
    assert_eq!(active.preview.as_deref(), Some("hello"));
    assert_eq!(active.output_preview, None);
    let started_at = active.started_at.expect("first activation sets started_at");
    assert_eq!(active.finished_at, None);
    assert!(active.updated_at >= session.updated_at);
    assert_eq!(store.get_session(org, id).await.unwrap(), Some(active.clone()), "the change is stored");

    // Failed expectations change nothing.
    assert_eq!(store.change_status(org, id, activate.clone()).await.unwrap(), None, "status is not expected");
    let wrong_turn = StatusChange { expect_turn: Some(next_turn), to: SessionStatus::Idle, ..StatusChange::default() };
    assert_eq!(store.change_status(org, id, wrong_turn).await.unwrap(), None, "turn is not expected");
    assert_eq!(store.get_session(org, id).await.unwrap(), Some(active.clone()));

    // Waiting: the preview is kept (set only once), output_preview set, usage added.
    let wait = StatusChange {
        expect: vec![SessionStatus::Active],
        expect_turn: Some(turn),
        to: SessionStatus::WaitingForToolResults,
        turn: Some(turn),
        add_usage: Some(usage(1, 1, Some(4))),
        preview: Some("ignored".to_owned()),
        output_preview: Some("calling a tool".to_owned()),
    };
    let waiting = store.change_status(org, id, wait).await.unwrap().unwrap();
    assert_eq!(waiting.status, SessionStatus::WaitingForToolResults);
    assert_eq!(waiting.preview.as_deref(), Some("hello"));
    assert_eq!(waiting.output_preview.as_deref(), Some("calling a tool"));
    assert_eq!(waiting.usage, Some(usage(11, 3, Some(4))));

    // Idle: the turn is cleared, finished_at set; output_preview kept when not given.
    let idle_change = StatusChange { expect_turn: Some(turn), to: SessionStatus::Idle, ..StatusChange::default() };
    let idle = store.change_status(org, id, idle_change).await.unwrap().unwrap();
    assert_eq!(idle.status, SessionStatus::Idle);
    assert_eq!(idle.current_turn_id, None);
    assert!(idle.finished_at.is_some());
    assert_eq!(idle.output_preview.as_deref(), Some("calling a tool"));
    assert_eq!(idle.usage, Some(usage(11, 3, Some(4))));

    // Next activation keeps the first started_at; empty `expect` accepts any status.
    let again = StatusChange { to: SessionStatus::Active, turn: Some(next_turn), ..StatusChange::default() };
    let reactivated = store.change_status(org, id, again).await.unwrap().unwrap();
    assert_eq!(reactivated.started_at, Some(started_at));
    assert_eq!(reactivated.current_turn_id, Some(next_turn));
    assert_eq!(reactivated.usage, Some(usage(11, 3, Some(4))), "no usage given, none added");

    // Unknown session, or another org's: NotFound.
    let any = StatusChange { to: SessionStatus::Idle, ..StatusChange::default() };
    assert_not_found(store.change_status(fresh_org(), id, any.clone()).await, "session");
    assert_not_found(store.change_status(org, SessionId::new(), any).await, "session");
}

async fn deletes(stores: &Stores) {
    let store = stores.sessions.as_ref();
    let session = seed_session(stores).await;
    let survivor = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    for target in [&session, &survivor] {
        stores.events.append(activated(target.id, TurnId::new())).await.unwrap();
        let file = SessionFile {
            path: "notes.md".to_owned(),
            content: b"hi".to_vec(),
            is_readonly: false,
            updated_at: Timestamp::now(),
        };
        stores.files.write_file(target.id, file).await.unwrap();
    }

    assert!(!store.delete_session(fresh_org(), id).await.unwrap(), "another org cannot delete it");
    assert!(store.get_session(org, id).await.unwrap().is_some());

    assert!(store.delete_session(org, id).await.unwrap());
    assert_eq!(store.get_session(org, id).await.unwrap(), None);
    assert!(stores.events.list_events(id, &EventFilter::default()).await.unwrap().is_empty(), "events cascade");
    assert!(stores.files.list_files(id, "").await.unwrap().is_empty(), "files cascade");
    assert!(!store.delete_session(org, id).await.unwrap(), "second delete finds nothing");

    let survivor_org = survivor.organization_id;
    assert!(store.get_session(survivor_org, survivor.id).await.unwrap().is_some());
    assert_eq!(stores.events.list_events(survivor.id, &EventFilter::default()).await.unwrap().len(), 1);
    assert_eq!(stores.files.list_files(survivor.id, "").await.unwrap().len(), 1);
}

/// `delete_settled_session` deletes an idle session (with what cascades) and leaves a busy one, or
/// another org's, alone.
async fn settled_deletes(stores: &Stores) {
    let store = stores.sessions.as_ref();
    let session = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    let turn = TurnId::new();
    stores.events.append(activated(id, turn)).await.unwrap();
    let activate = StatusChange {
        expect: vec![SessionStatus::Started, SessionStatus::Idle],
        to: SessionStatus::Active,
        turn: Some(turn),
        ..StatusChange::default()
    };
    store.change_status(org, id, activate).await.unwrap().unwrap();
    assert!(!store.delete_settled_session(org, id).await.unwrap(), "a running session is not deleted");
    assert!(store.get_session(org, id).await.unwrap().is_some());
    let wait = StatusChange {
        expect: vec![SessionStatus::Active],
        to: SessionStatus::WaitingForToolResults,
        turn: Some(turn),
        ..StatusChange::default()
    };
    store.change_status(org, id, wait).await.unwrap().unwrap();
    assert!(!store.delete_settled_session(org, id).await.unwrap(), "nor one waiting for tool results");

    let idle = StatusChange {
        expect: vec![SessionStatus::WaitingForToolResults],
        to: SessionStatus::Idle,
        ..StatusChange::default()
    };
    store.change_status(org, id, idle).await.unwrap().unwrap();
    assert!(!store.delete_settled_session(fresh_org(), id).await.unwrap(), "another org cannot delete it");
    assert!(store.delete_settled_session(org, id).await.unwrap());
    assert_eq!(store.get_session(org, id).await.unwrap(), None);
    assert!(stores.events.list_events(id, &EventFilter::default()).await.unwrap().is_empty(), "events cascade");
    assert!(!store.delete_settled_session(org, id).await.unwrap(), "second delete finds nothing");

    let fresh = seed_session(stores).await;
    assert!(store.delete_settled_session(fresh.organization_id, fresh.id).await.unwrap(), "a started session");
}

/// `get_session_with_events` answers the session as `get_session` does, and — when it reads the
/// events too — exactly what `list_events` answers for the same filter.
async fn reads_with_events(stores: &Stores) {
    let store = stores.sessions.as_ref();
    let session = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    for _ in 0..2 {
        stores.events.append(activated(id, TurnId::new())).await.unwrap();
        stores.events.append(compacting(id)).await.unwrap();
    }
    let filters = [
        EventFilter {
            after_sequence: Some(1),
            exclude: vec!["context.compacting".to_owned()],
            ..EventFilter::default()
        },
        EventFilter { after_sequence: Some(0), ..EventFilter::default() },
        EventFilter { after_sequence: Some(4), ..EventFilter::default() },
        EventFilter { types: vec!["context.compacting".to_owned()], ..EventFilter::default() },
    ];
    for filter in &filters {
        let (read, events) = store.get_session_with_events(org, id, filter).await.unwrap().expect("the session");
        assert_eq!(Some(read), store.get_session(org, id).await.unwrap());
        if let Some(events) = events {
            assert_eq!(events, stores.events.list_events(id, filter).await.unwrap(), "{filter:?}");
        }
    }
    let only_after = store.get_session_with_events(org, id, &filters[0]).await.unwrap().unwrap().1;
    if let Some(events) = only_after {
        let kinds: Vec<&str> = events.iter().map(|e| e.event_type()).collect();
        assert_eq!(kinds, ["session.activated"], "after 1, without compactions");
    }
    assert_eq!(store.get_session_with_events(fresh_org(), id, &filters[0]).await.unwrap(), None, "another org");
    assert_eq!(store.get_session_with_events(org, SessionId::new(), &filters[0]).await.unwrap(), None);
}
