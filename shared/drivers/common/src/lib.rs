//! # everruns-driver-common
//!
//! Plumbing shared by the Everruns LLM provider drivers (`everruns-openai`, `everruns-anthropic`,
//! `everruns-gemini`):
//!
//! - [`driver`]: the settings every driver holds and [`post_stream`], its one streaming call;
//! - [`http`]: a lean reqwest client (rustls, HTTP/1.1 and 2), sending a request and mapping a failed
//!   response to a typed `DriverError` (provider message, status class, `retry-after`);
//! - [`sse`]: a server-sent-events parser over a byte stream;
//! - [`stream`]: decoding an SSE response into a `ChatStream` through a provider's [`EventDecoder`];
//! - [`retry`]: the driver-level retry policy of the contract (§5.4) and [`stream_with_retry`];
//! - [`request`]: credentials (fail-closed), endpoints, system prompt and tool-result helpers;
//! - `testing` (feature `test-support`): a loopback fake provider server for tests.

pub mod driver;
pub mod http;
pub mod outbound;
pub mod request;
pub mod retry;
pub mod sse;
pub mod stream;
#[cfg(feature = "test-support")]
pub mod testing;

pub use driver::{DriverSettings, post_stream};
pub use http::{HttpClientOptions, build_client, shared_client};
pub use retry::{RetryPolicy, stream_with_retry};
pub use sse::{SseEvent, SseParser};
pub use stream::{EventDecoder, Flow};
