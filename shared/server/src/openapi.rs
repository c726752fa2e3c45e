//! The OpenAPI document served at `/api-doc/openapi.json`.

use axum::Json;
use serde_json::{Value, json};

/// `GET /api-doc/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(
        json!({"openapi": "3.1.0", "info": {"title": "Everruns API", "version": env!("CARGO_PKG_VERSION")}, "paths": {}}),
    )
}
