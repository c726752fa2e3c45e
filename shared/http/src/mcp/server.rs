//! `EverrunsMcp`: the `rmcp` server handler — its description, the tool list, and each call
//! dispatched with the caller the `/mcp` middleware authenticated.

use everruns_services::auth::Caller;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::state::AppState;

/// One request's server: cheap, built per request (the transport is stateless).
pub(super) struct EverrunsMcp {
    state: AppState,
}

impl EverrunsMcp {
    pub(super) fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// The caller the middleware put on the HTTP request.
fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .copied()
        .ok_or_else(|| McpError::internal_error("the request was not authenticated", None))
}

impl ServerHandler for EverrunsMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("everruns", env!("CARGO_PKG_VERSION")).with_title("Everruns"))
            .with_instructions(
                "Everruns runs LLM agents durably. List agents, create a session for one, send it a message \
                 (the call waits for the agent's answer and reports progress while it streams), read the \
                 session's events, or cancel its turn.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(super::tools::definitions().to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        super::tools::definitions().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = caller(&context)?;
        let arguments = request.arguments.unwrap_or_default();
        let result = super::tools::call(&self.state, caller, &request.name, &arguments, &context).await?;
        Ok(result.into())
    }
}
