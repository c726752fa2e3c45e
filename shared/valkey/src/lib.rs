//! Everruns on Valkey (Redis-compatible): [`ValkeyRateLimiter`], the adapter of the
//! [`RateLimiter`](everruns_core::ports::RateLimiter) port that shares one per-client request
//! budget across every control-plane instance.
//!
//! # Layout
//! * [`url`] — [`parse_valkey_url`]: `VALKEY_URL` validation (`redis://`, `rediss://`,
//!   `valkey://`, `valkeys://`) with typed, password-free [`ValkeyUrlError`]s.
//! * [`limiter`] — [`ValkeyRateLimiter`]: the port implementation; fails open.
//! * `script` — the Lua sliding-window counter, run atomically on the server.
//! * `connection` — the lazily connected `ConnectionManager` and the back-off after failures.
//!
//! # Behaviour
//! * Construction never touches the network: an unreachable Valkey at start-up does not stop the
//!   server. The first check connects.
//! * Every failure (connect, timeout, script) answers [`RateDecision::Allowed`] and logs a
//!   warning, at most one every 10 s. After a failure no connection is attempted for a second;
//!   checks in between are allowed at once.
//! * Budgets are sliding windows over the server's clock (`TIME`), so all instances agree; keys
//!   are `everruns:rl:{<key>}:<window index>`. A limited check carries the exact wait until a
//!   request would be allowed (up to `window + window / limit`).
//!
//! [`RateDecision::Allowed`]: everruns_core::ports::RateDecision::Allowed

mod connection;
pub mod limiter;
mod script;
pub mod url;

pub use limiter::ValkeyRateLimiter;
pub use url::{ValkeyUrlError, parse_valkey_url};
