//! # everruns-web-fetch
//!
//! The `web_fetch` capability: the `web_fetch` tool reads a URL as text (HTML reduced to readable
//! text by a small hand-written reducer, JSON, XML and plain text as sent) and, when the per-layer
//! config sets `"enable_file_download": true`, `save_to_file` downloads a URL into the session
//! workspace. Requests go out under the outbound policy of `everruns-driver-common` (http/https
//! only, no credentials in URLs, no internal address unless the policy allows it — judged on every
//! resolved address and every redirect) and the session's network access list, with a total
//! timeout and a body cap.
//!
//! - [`capability`]: [`WebFetchCapability`], its tools and their results;
//! - [`fetch`]: the client, redirects under the policy, bounded body reads;
//! - [`access`]: host patterns of a network access list;
//! - [`html`]: the HTML-to-text reducer; [`text`]: content types and charsets.

pub mod access;
pub mod capability;
mod entities;
pub mod fetch;
pub mod html;
pub mod text;

pub use capability::{
    DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, HARD_MAX_BYTES, SAVE_TO_FILE, WEB_FETCH, WEB_FETCH_CAPABILITY,
    WebFetchCapability,
};
