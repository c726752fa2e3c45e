//! Postgres-specific checks beyond the contract suite (whose rows leave most optional fields
//! empty): every field of every row round-trips through its column, values PostgreSQL cannot
//! store are `Invalid`, rows that need a missing parent are `NotFound`, and `change_status` adds
//! cache usage like `TokenUsage::add`.

mod support;

use std::collections::BTreeMap;

use everruns_core::domain::{
    Agent, AgentCapabilityConfig, EntityStatus, Harness, InitialFile, Model, ModelSource, NetworkAccessList, Provider,
    ProviderStatus, Session, SessionStatus, TokenUsage, ToolDefinition,
};
use everruns_core::driver_registry::{DriverId, ProviderMetadata};
use everruns_core::events::{EventContext, EventPayload, NewEvent, TurnFailedData};
use everruns_core::harness_templates::BuiltInHarnessRole;
use everruns_core::ids::{AgentId, MessageId, ModelId, OrgId, ProviderId, SessionId, TurnId};
use everruns_core::ports::{EventFilter, PortError, SessionFile, StatusChange, Stores};
use everruns_core::time::Timestamp;
use serde_json::json;
use support::with_database;

fn usage(input: u64, output: u64, cache_read: Option<u64>, cache_creation: Option<u64>) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_creation_tokens: cache_creation,
    }
}

fn capabilities() -> Vec<AgentCapabilityConfig> {
    vec![
        AgentCapabilityConfig::new("current_time"),
        AgentCapabilityConfig {
            capability_ref: "web_fetch".to_owned(),
            config: json!({ "max_bytes": 1024, "x": [1.5, null] }),
        },
        AgentCapabilityConfig { capability_ref: "nulled".to_owned(), config: serde_json::Value::Null },
    ]
}

fn files() -> Vec<InitialFile> {
    vec![
        InitialFile {
            path: "/workspace/a.md".to_owned(),
            content: "# A".to_owned(),
            encoding: None,
            is_readonly: true,
        },
        InitialFile {
            path: "b.bin".to_owned(),
            content: "AAEC".to_owned(),
            encoding: Some("base64".to_owned()),
            is_readonly: false,
        },
    ]
}

fn network() -> NetworkAccessList {
    NetworkAccessList { allowed: vec!["*.example.com".to_owned()], blocked: vec!["evil.example.com".to_owned()] }
}

#[tokio::test]
async fn every_field_round_trips() {
    with_database(|stores, _| async move {
        let org = OrgId::new();
        let now = Timestamp::now();
        let parent = Harness { org_id: org, ..Harness::new("parent", None) };
        stores.harnesses.insert_harness(&parent).await.expect("insert parent");
        let harness = Harness {
            org_id: org,
            display_name: Some("Full".to_owned()),
            description: Some("Every field".to_owned()),
            parent_harness_id: Some(parent.id),
            default_model_id: Some(ModelId::new()),
            capabilities: capabilities(),
            initial_files: files(),
            tags: vec!["x".to_owned(), "y".to_owned()],
            network_access: Some(network()),
            parallel_tool_calls: Some(false),
            mcp_servers: Some(serde_json::Value::Null),
            embedder_metadata: Some(BTreeMap::from([("team".to_owned(), "core".to_owned())])),
            is_built_in: true,
            roles: vec![BuiltInHarnessRole::Base, BuiltInHarnessRole::Chat],
            status: EntityStatus::Archived,
            archived_at: Some(now),
            deleted_at: Some(now),
            ..Harness::new("full", Some("prompt".to_owned()))
        };
        stores.harnesses.insert_harness(&harness).await.expect("insert harness");
        assert_eq!(stores.harnesses.get_harness(org, harness.id).await.expect("get"), Some(harness.clone()));

        let agent = Agent {
            org_id: org,
            display_name: Some("Agent".to_owned()),
            description: Some("Does things".to_owned()),
            default_model_id: Some(ModelId::new()),
            capabilities: capabilities(),
            tools: vec![
                ToolDefinition::client_side("lookup", "Looks up", json!({ "type": "object", "properties": {} })),
                ToolDefinition {
                    display_name: Some("B".to_owned()),
                    category: Some("c".to_owned()),
                    ..ToolDefinition::builtin("b", "", json!(true))
                },
            ],
            initial_files: files(),
            tags: vec!["t".to_owned()],
            max_iterations: Some(u32::MAX),
            parallel_tool_calls: Some(true),
            network_access: Some(network()),
            mcp_servers: Some(json!({ "srv": { "url": "https://mcp.example.com", "weights": [0.1, 2e-3] } })),
            usage: Some(usage(1, 2, Some(3), None)),
            archived_at: Some(now),
            ..Agent::new("agent", "You help.", harness.id)
        };
        stores.agents.insert_agent(&agent).await.expect("insert agent");
        assert_eq!(stores.agents.get_agent(org, agent.id).await.expect("get"), Some(agent.clone()));

        let session = Session {
            agent_id: Some(agent.id),
            status: SessionStatus::WaitingForToolResults,
            current_turn_id: Some(TurnId::new()),
            title: Some("Title ünïcode ✓".to_owned()),
            locale: Some("de-DE".to_owned()),
            preview: Some("first".to_owned()),
            output_preview: Some("last".to_owned()),
            tags: vec!["s".to_owned()],
            model_id: Some(ModelId::new()),
            capabilities: capabilities(),
            tools: agent.tools.clone(),
            initial_files: files(),
            system_prompt: Some("Session layer.".to_owned()),
            hints: Some(json!({ "verbosity": "low" })),
            network_access: Some(network()),
            max_iterations: Some(0),
            parallel_tool_calls: Some(false),
            mcp_servers: Some(json!([])),
            usage: Some(usage(10, 20, None, Some(5))),
            started_at: Some(now),
            finished_at: Some(now),
            ..Session::new(org, harness.id)
        };
        stores.sessions.insert_session(&session).await.expect("insert session");
        assert_eq!(stores.sessions.get_session(org, session.id).await.expect("get"), Some(session.clone()));

        let turn = TurnId::new();
        let data = TurnFailedData {
            turn_id: turn,
            error: "boom".to_owned(),
            error_code: Some("E1".to_owned()),
            error_fields: Some(
                json!({ "n": 1, "f": 0.25, "big": u64::MAX, "s": "x" }).as_object().cloned().unwrap_or_default(),
            ),
            error_disclosure: Some("detailed".to_owned()),
        };
        let mut new = NewEvent::new(
            session.id,
            EventContext::for_turn(turn, Some(MessageId::new())),
            EventPayload::TurnFailed(data),
        )
        .with_key("turn/1/failed");
        new.event.context.exec_id = Some("exec_1".to_owned());
        new.event.context.span_id = Some("span".to_owned());
        new.event.context.parent_span_id = Some("parent".to_owned());
        new.event.metadata = Some(json!({ "k": [1, 2, 3] }));
        new.event.tags = vec!["a".to_owned(), "b".to_owned()];
        let stored = stores.events.append(new.clone()).await.expect("append");
        assert_eq!(stored.sequence, Some(1));
        assert_eq!(stores.events.get_event(session.id, stored.id).await.expect("get"), Some(stored.clone()));
        let by_turn = EventFilter { turn_id: Some(turn), ..EventFilter::default() };
        assert_eq!(stores.events.list_events(session.id, &by_turn).await.expect("list"), vec![stored.clone()]);
        // The turn loader's read (the session with the events after a sequence, as one JSON array)
        // gives back every field too.
        let since = EventFilter {
            after_sequence: Some(0),
            exclude: vec!["llm.generation".to_owned()],
            ..EventFilter::default()
        };
        let (_, events) =
            stores.sessions.get_session_with_events(org, session.id, &since).await.expect("read").expect("session");
        assert_eq!(events, Some(vec![stored]), "read in one statement");

        let provider = Provider {
            id: ProviderId::new(),
            org_id: org,
            name: "custom".to_owned(),
            provider_type: DriverId::parse("my-gateway").expect("driver id"),
            status: ProviderStatus::Disabled,
            api_key_set: false,
            api_key_encrypted: None,
            base_url: Some("https://gw.example.com".to_owned()),
            metadata: Some(ProviderMetadata {
                refresh_token: Some("r".to_owned()),
                account_id: Some("acct".to_owned()),
                extra: Some(json!({ "scope": ["a"] })),
            }),
            created_at: now,
            updated_at: now,
        };
        stores.providers.insert_provider(&provider).await.expect("insert provider");
        assert_eq!(stores.providers.get_provider(org, provider.id).await.expect("get"), Some(provider.clone()));
        let model = Model {
            id: ModelId::new(),
            provider_id: provider.id,
            model_id: "m-1".to_owned(),
            display_name: "M1".to_owned(),
            capabilities: vec![],
            enabled: false,
            is_favorite: true,
            source: ModelSource::Predefined,
            created_at: now,
            updated_at: now,
        };
        stores.providers.insert_model(org, &model).await.expect("insert model");
        assert_eq!(stores.providers.get_model(org, model.id).await.expect("get"), Some(model));
    })
    .await;
}

#[tokio::test]
async fn unstorable_values_are_invalid_and_missing_parents_not_found() {
    with_database(|stores, _| async move {
        let org = OrgId::new();
        let harness = Harness { org_id: org, ..Harness::new("h", None) };
        stores.harnesses.insert_harness(&harness).await.expect("insert harness");
        let session = Session { title: Some("nul \0 inside".to_owned()), ..Session::new(org, harness.id) };
        let result = stores.sessions.insert_session(&session).await;
        assert!(matches!(result, Err(PortError::Invalid(_))), "NUL in text: {result:?}");
        let session = Session { hints: Some(json!({ "x": "nul \u{0} inside" })), ..Session::new(org, harness.id) };
        let result = stores.sessions.insert_session(&session).await;
        assert!(matches!(result, Err(PortError::Invalid(_))), "NUL in JSON: {result:?}");

        let orphan = Session::new(org, everruns_core::ids::HarnessId::new());
        let result = stores.sessions.insert_session(&orphan).await;
        assert!(matches!(result, Err(PortError::NotFound { kind: "harness", .. })), "{result:?}");
        let agent = Agent { org_id: org, ..Agent::new("a", "p", everruns_core::ids::HarnessId::new()) };
        let result = stores.agents.insert_agent(&agent).await;
        assert!(matches!(result, Err(PortError::NotFound { kind: "harness", .. })), "{result:?}");

        let missing = SessionId::new();
        let result = stores.events.append(turn_failed(missing, "e".to_owned())).await;
        assert!(matches!(result, Err(PortError::NotFound { kind: "session", .. })), "{result:?}");
        assert!(stores.events.list_events(missing, &EventFilter::default()).await.expect("list").is_empty());
        let file =
            SessionFile { path: "a".to_owned(), content: vec![0, 1], is_readonly: false, updated_at: Timestamp::now() };
        let result = stores.files.write_file(missing, file).await;
        assert!(matches!(result, Err(PortError::NotFound { kind: "session", .. })), "{result:?}");
        assert_eq!(stores.agents.get_agent(org, AgentId::new()).await.expect("get"), None);
    })
    .await;
}

#[tokio::test]
async fn status_changes_add_usage_like_token_usage_add() {
    with_database(|stores, _| async move {
        let session = stored_session(&stores).await;
        let mut expected: Option<TokenUsage> = None;
        for add in [
            usage(1, 2, None, None),
            usage(3, 4, None, Some(7)),
            usage(5, 6, Some(1), None),
            usage(u64::from(u32::MAX), 0, None, None),
        ] {
            expected.get_or_insert_with(Default::default).add(&add);
            let change = StatusChange { to: SessionStatus::Active, add_usage: Some(add), ..StatusChange::default() };
            let changed = stores
                .sessions
                .change_status(session.organization_id, session.id, change)
                .await
                .expect("change")
                .expect("applied");
            assert_eq!(changed.usage, expected);
        }
        let stored =
            stores.sessions.get_session(session.organization_id, session.id).await.expect("get").expect("exists");
        assert_eq!(stored.usage, expected);
    })
    .await;
}

/// A session of a new organisation and harness, stored.
async fn stored_session(stores: &Stores) -> Session {
    let org = OrgId::new();
    let harness = Harness { org_id: org, ..Harness::new("h", None) };
    stores.harnesses.insert_harness(&harness).await.expect("insert harness");
    let session = Session::new(org, harness.id);
    stores.sessions.insert_session(&session).await.expect("insert session");
    session
}

/// A `turn.failed` event of a new turn of `session`, with `error` as its message.
fn turn_failed(session: SessionId, error: String) -> NewEvent {
    let data =
        TurnFailedData { turn_id: TurnId::new(), error, error_code: None, error_fields: None, error_disclosure: None };
    NewEvent::new(session, EventContext::default(), EventPayload::TurnFailed(data))
}

/// Text of `len` characters with no repeats worth compressing (a linear congruential walk over
/// 64 symbols).
fn incompressible(len: usize) -> String {
    const SYMBOLS: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
    let mut state: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            char::from(SYMBOLS[(state >> 26) as usize])
        })
        .collect()
}

/// An event the size of a turn's `llm.generation` (about 3 KB) is kept whole in its row, where
/// PostgreSQL's default moved its data to the TOAST table; a larger one still goes there, and
/// both read back as stored.
#[tokio::test]
async fn an_event_up_to_a_page_stays_in_its_row() {
    with_database(|stores, pool| async move {
        let session = stored_session(&stores).await;
        let toasted = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'events'::regclass",
            )
            .fetch_one(&pool)
            .await
            .expect("size of the events' TOAST table")
        };

        let generation_sized =
            stores.events.append(turn_failed(session.id, incompressible(3_000))).await.expect("append 3 KB");
        assert_eq!(toasted().await, 0, "a 3 KB event went out of its row");
        let large = stores.events.append(turn_failed(session.id, incompressible(20_000))).await.expect("append 20 KB");
        assert!(toasted().await > 0, "a 20 KB event stayed in its row");

        let stored = stores.events.list_events(session.id, &EventFilter::default()).await.expect("list");
        let payloads: Vec<_> = stored.iter().map(|e| &e.payload).collect();
        assert_eq!(payloads, [&generation_sized.payload, &large.payload]);
    })
    .await;
}
