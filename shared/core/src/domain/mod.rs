//! The domain types of the Everruns contract: agents, harnesses, sessions, messages, tools,
//! controls, models and providers, and the organizations and API keys of multi-tenant auth. They serialize to the wire shape the official SDKs parse
//! (snake_case, optional fields omitted when unset).

mod agent;
mod auth;
mod common;
mod conversation;
mod message;
mod model;
mod oauth;
mod session;

pub use agent::{Agent, EntityStatus, Harness};
pub use auth::{ApiKey, KeyDigest, Organization};
pub use common::{
    AgentCapabilityConfig, Controls, InitialFile, NetworkAccessList, ReasoningControls, TokenUsage, ToolDefinition,
    ToolKind,
};
pub use conversation::Conversation;
pub use message::{ContentPart, Message, MessagePhase, MessageRole};
pub use model::{Model, ModelSource, Provider, ProviderStatus};
pub use oauth::{AuthorizationCode, CodeRedemption, Grant, OAuthClient, OAuthToken, TokenKind};
pub use session::{Session, SessionStatus, StatusTransitionError};
