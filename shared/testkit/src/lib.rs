//! # everruns-testkit
//!
//! What the integration tests of the workspace share, so each test says only what it checks:
//!
//! - [`env`]: the variables `scripts/test` sets for real components, or a clear failure;
//! - [`db`]: a fresh database on the test cluster (`EVERRUNS_TEST_DATABASE_URL`), and its drop;
//! - [`server`]: a control plane of a given [`DeploymentKind`] served on loopback ports;
//! - [`worker`]: an in-process `everruns-worker` with a readiness signal (subscribed to task
//!   notifications), so no test sleeps to let it connect;
//! - [`client`]: a small REST client and an SSE reader;
//! - [`wait`]: waiting for a condition, never for a fixed time; [`net`]: loopback ports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod client;
pub mod db;
pub mod env;
pub mod net;
pub mod server;
pub mod wait;
pub mod worker;

pub use client::{Api, Record, Sse};
pub use everruns_server::DeploymentKind;
pub use server::{Server, TOKEN};
pub use worker::Worker;
