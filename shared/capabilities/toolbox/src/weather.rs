//! `test_weather` (dev grade only): `get_weather` and `get_forecast` answer with made-up but
//! stable weather for any location (the same place gives the same answer on the same day), for
//! demos and tests of multi-tool turns.

use everruns_core::capabilities::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use everruns_core::domain::ToolDefinition;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::args::{object, optional_count, optional_str, required_str};

/// The capability id.
pub const ID: &str = "test_weather";
const CONDITIONS: [&str; 6] = ["sunny", "partly cloudy", "cloudy", "light rain", "windy", "snow showers"];

/// Fake weather. Experimental.
#[derive(Debug, Clone, Copy, Default)]
pub struct TestWeatherCapability;

#[async_trait::async_trait]
impl Capability for TestWeatherCapability {
    fn id(&self) -> &str {
        ID
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: ID.into(),
            name: "Test Weather".into(),
            description: "Made-up weather and forecasts for testing tool calls. Experimental.".into(),
            status: "available".into(),
            category: Some("Testing".into()),
            icon: Some("cloud-sun".into()),
            dependencies: Vec::new(),
            risk_level: Some("low".into()),
        }
    }

    fn is_experimental(&self) -> bool {
        true
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        let units = json!({"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Default celsius."});
        vec![
            ToolDefinition::builtin(
                "get_weather",
                "The current weather at a location.",
                json!({"type": "object", "properties": {"location": {"type": "string"}, "units": units}, "required": ["location"]}),
            ),
            ToolDefinition::builtin(
                "get_forecast",
                "The forecast for the next days at a location.",
                json!({"type": "object", "properties": {
                    "location": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7, "description": "Default 3."},
                    "units": units
                }, "required": ["location"]}),
            ),
        ]
    }

    async fn execute_tool(
        &self,
        tool: &str,
        arguments: &Value,
        _config: &Value,
        _ctx: &ToolContext<'_>,
    ) -> ToolOutcome {
        object(arguments)?;
        let location = required_str(arguments, "location")?.trim();
        let fahrenheit = match optional_str(arguments, "units")? {
            None | Some("celsius") => false,
            Some("fahrenheit") => true,
            Some(_) => return Err("'units' must be celsius or fahrenheit".into()),
        };
        let today = chrono_day();
        match tool {
            "get_weather" => {
                let mut now = day(location, today, fahrenheit);
                now["location"] = json!(location);
                Ok(now)
            }
            "get_forecast" => {
                let days = optional_count(arguments, "days", 1, 7)?.unwrap_or(3);
                let forecast: Vec<Value> = (1..=days).map(|d| day(location, today + d, fahrenheit)).collect();
                Ok(json!({"location": location, "days": forecast}))
            }
            other => Err(format!("unknown tool '{other}' in capability {ID}")),
        }
    }
}

/// Days since the Unix epoch.
fn chrono_day() -> u64 {
    everruns_core::time::Timestamp::now().millis().max(0) as u64 / 86_400_000
}

fn day(location: &str, day: u64, fahrenheit: bool) -> Value {
    let seed = Sha256::digest(format!("{}|{day}", location.to_lowercase()));
    let celsius = i64::from(seed[0] % 40) - 5;
    let (temperature, unit) = if fahrenheit { (celsius * 9 / 5 + 32, "fahrenheit") } else { (celsius, "celsius") };
    json!({
        "day_offset": day.saturating_sub(chrono_day()),
        "temperature": temperature,
        "units": unit,
        "conditions": CONDITIONS[usize::from(seed[1]) % CONDITIONS.len()],
        "humidity_percent": 30 + seed[2] % 60,
        "wind_kph": seed[3] % 50,
    })
}
