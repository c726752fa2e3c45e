//! Reading an [`Event`] envelope without buffering it: the derived implementation of a struct with
//! a flattened field collects every field into serde's intermediate tree first, which for an
//! `llm.generation` (the whole conversation) is most of the cost of reading the event. Here the
//! envelope's fields are read in place and `data` goes straight into its variant's type once
//! `type` is known — as it is in everything this platform writes (`type` precedes `data`); a
//! `data` that comes first is kept as a JSON value until then.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{Event, EventPayload};

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Id,
    Ts,
    SessionId,
    Context,
    Type,
    Data,
    Sequence,
    Metadata,
    Tags,
    #[serde(other)]
    Other,
}

/// The `data` of an event whose type is known.
struct PayloadSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = EventPayload;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<EventPayload, D::Error> {
        EventPayload::from_data(self.0, deserializer)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let (mut id, mut ts, mut session_id, mut context) = (None, None, None, None);
        let (mut sequence, mut metadata, mut tags) = (None, None, None);
        let (mut event_type, mut payload, mut early_data): (Option<String>, _, Option<Value>) = (None, None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Id => id = Some(map.next_value()?),
                Field::Ts => ts = Some(map.next_value()?),
                Field::SessionId => session_id = Some(map.next_value()?),
                Field::Context => context = Some(map.next_value()?),
                Field::Sequence => sequence = map.next_value()?,
                Field::Metadata => metadata = map.next_value()?,
                Field::Tags => tags = Some(map.next_value()?),
                Field::Type => event_type = Some(map.next_value()?),
                Field::Data => match event_type.as_deref() {
                    Some(kind) => payload = Some(map.next_value_seed(PayloadSeed(kind))?),
                    None => early_data = Some(map.next_value()?),
                },
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let event_type = event_type.ok_or_else(|| de::Error::missing_field("type"))?;
        let payload = match (payload, early_data) {
            (Some(payload), _) => payload,
            (None, Some(data)) => EventPayload::from_data(&event_type, data).map_err(de::Error::custom)?,
            (None, None) => return Err(de::Error::missing_field("data")),
        };
        Ok(Event {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            ts: ts.ok_or_else(|| de::Error::missing_field("ts"))?,
            session_id: session_id.ok_or_else(|| de::Error::missing_field("session_id"))?,
            context: context.unwrap_or_default(),
            payload,
            sequence,
            metadata,
            tags: tags.unwrap_or_default(),
            idempotency_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::events::{EventContext, NewEvent, TurnStartedData};
    use crate::ids::{MessageId, SessionId, TurnId};

    fn event() -> Event {
        let turn = TurnId::new();
        let mut event = NewEvent::new(
            SessionId::new(),
            EventContext::for_turn(turn, None),
            EventPayload::TurnStarted(TurnStartedData {
                turn_id: turn,
                input_message_id: MessageId::new(),
                input_content: None,
            }),
        )
        .event;
        event.sequence = Some(7);
        event.tags = vec!["a".into()];
        event.metadata = Some(json!({"k": 1}));
        event
    }

    #[test]
    fn an_event_reads_back_as_written_from_text_and_from_a_value() {
        let event = event();
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
        assert_eq!(serde_json::from_value::<Event>(serde_json::to_value(&event).unwrap()).unwrap(), event);
    }

    #[test]
    fn data_before_type_and_unknown_fields_are_accepted() {
        let event = event();
        let mut value = serde_json::to_value(&event).unwrap();
        let object = value.as_object_mut().unwrap();
        let data = object.remove("data").unwrap();
        // Text keeps the order: `data` first, then an unknown field, then the rest.
        let rest = serde_json::to_string(object).unwrap();
        let text = format!("{{\"data\":{data},\"extra\":[1,2],{}", rest.trim_start_matches('{'));
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    }

    #[test]
    fn a_missing_or_unknown_type_is_an_error_naming_it() {
        let mut value = serde_json::to_value(event()).unwrap();
        value["type"] = json!("no.such.type");
        let error = serde_json::from_value::<Event>(value.clone()).unwrap_err().to_string();
        assert!(error.contains("no.such.type"), "{error}");
        value.as_object_mut().unwrap().remove("type");
        let error = serde_json::from_value::<Event>(value).unwrap_err().to_string();
        assert!(error.contains("type"), "{error}");
    }
}
