//! The `llm.generation` contract: a generation whose conversation is the session's fold through a
//! sequence reads back with the whole list sent to the model, however the store keeps it (the
//! PostgreSQL store keeps a reference; later messages of the session do not leak into it).

use everruns_core::domain::{Message, MessageRole};
use everruns_core::events::{
    Event, EventContext, EventPayload, GenerationMetadata, GenerationOutput, InputMessageData, LlmGenerationData,
    NewEvent, OutputMessageCompletedData, SentMessages,
};
use everruns_core::history::HistoryFold;
use everruns_core::ids::TurnId;
use everruns_core::ports::{EventFilter, Stores};

use crate::fixtures::seed_session;

fn generation(messages: SentMessages) -> EventPayload {
    EventPayload::LlmGeneration(LlmGenerationData {
        messages,
        output: GenerationOutput { text: Some("ok".into()), tool_calls: Vec::new() },
        tools: None,
        metadata: GenerationMetadata { model: "llmsim".into(), success: true, ..GenerationMetadata::default() },
    })
}

fn texts(event: &Event) -> Vec<String> {
    match &event.payload {
        EventPayload::LlmGeneration(data) => data.messages.iter().map(Message::text).collect(),
        other => panic!("not a generation: {other:?}"),
    }
}

/// Checks how an [`EventStore`](everruns_core::ports::EventStore) keeps generations.
pub async fn generation_store_contract(stores: &Stores) {
    let store = stores.events.as_ref();
    let session = seed_session(stores).await.id;
    let turn = TurnId::new();
    let in_turn = EventContext::for_turn(turn, None);
    let input = |text: &str| EventPayload::InputMessage(InputMessageData { message: Message::user_text(text) });
    store.append(NewEvent::new(session, EventContext::default(), input("one"))).await.unwrap();
    let answer = Message::new(MessageRole::Agent, vec![everruns_core::domain::ContentPart::text("two")]);
    store
        .append(NewEvent::new(
            session,
            in_turn.clone(),
            EventPayload::OutputMessageCompleted(OutputMessageCompletedData {
                message: answer,
                metadata: None,
                usage: None,
                error_code: None,
                error_fields: None,
                error_disclosure: None,
            }),
        ))
        .await
        .unwrap();
    store.append(NewEvent::new(session, EventContext::default(), input("three"))).await.unwrap();

    // The conversation as a turn's context has it: the fold of what is stored (through 3).
    let stored = store.list_events(session, &EventFilter::default()).await.unwrap();
    let conversation = HistoryFold::of(&stored).messages();
    assert_eq!(conversation.through(), Some(3));
    let system = Message::new(MessageRole::System, vec![everruns_core::domain::ContentPart::text("be brief")]);
    let sent = SentMessages::new(vec![system.clone()], conversation.clone());
    let expected = ["be brief", "one", "two", "three"];

    // Stored alone and in a burst; then the session moves on.
    let alone =
        store.append(NewEvent::new(session, in_turn.clone(), generation(sent.clone())).with_key("g/1")).await.unwrap();
    let burst = store
        .append_all(vec![
            NewEvent::new(session, in_turn.clone(), generation(sent.clone())).with_key("g/2"),
            NewEvent::new(session, in_turn.clone(), generation(SentMessages::from(vec![system.clone()]))),
        ])
        .await
        .unwrap();
    assert_eq!(texts(&alone), expected);
    store.append(NewEvent::new(session, EventContext::default(), input("four"))).await.unwrap();

    // Every read gives the whole list sent, and only it.
    let generations = EventFilter { types: vec!["llm.generation".into()], ..EventFilter::default() };
    let read = store.list_events(session, &generations).await.unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(texts(&read[0]), expected);
    assert_eq!(texts(&read[1]), expected);
    assert_eq!(texts(&read[2]), ["be brief"], "a generation without a fold reference is kept as sent");
    assert_eq!(read[0].payload, alone.payload);
    assert_eq!(read[1].payload, burst[0].payload);
    let got = store.get_event(session, alone.id).await.unwrap().unwrap();
    assert_eq!(texts(&got), expected);
    let replayed = store.append(NewEvent::new(session, in_turn, generation(sent)).with_key("g/2")).await.unwrap();
    assert_eq!((replayed.id, texts(&replayed)), (burst[0].id, expected.map(String::from).to_vec()));
    let all = store.list_events(session, &EventFilter::default()).await.unwrap();
    assert_eq!(all.iter().filter(|e| e.event_type() == "llm.generation").map(texts).next().unwrap(), expected);
}
