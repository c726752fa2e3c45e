//! The org default model (`/v1/organization/settings`): set only to an enabled model of an
//! active provider, used by a turn only when nothing in the turn's chain names a model, seen at
//! once in the process that changed it, and unset when its model is deleted.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

mod support;
use support::{app, assert_error, call};

const SETTINGS: &str = "/api/v1/organization/settings";

/// The id of the seeded model with this wire name.
async fn model(app: &Router, name: &str) -> String {
    let (_, models, _) = call(app, Method::GET, "/api/v1/models", None).await;
    let found = models["data"].as_array().unwrap().iter().find(|m| m["model_id"] == name);
    found.unwrap_or_else(|| panic!("no model {name}: {models}"))["id"].as_str().unwrap().to_owned()
}

/// Sends `text` in a new session (with `body`'s fields) and answers how its turn ended.
async fn turn_outcome(app: &Router, body: Value) -> String {
    let (status, session, _) = call(app, Method::POST, "/api/v1/sessions", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let id = session["id"].as_str().unwrap();
    let message = json!({"message": {"role": "user", "content": [{"type": "text", "text": "hi"}]}});
    let (status, _, _) = call(app, Method::POST, &format!("/api/v1/sessions/{id}/messages"), Some(message)).await;
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..500 {
        let (_, events, _) = call(app, Method::GET, &format!("/api/v1/sessions/{id}/events"), None).await;
        let ended = events["data"].as_array().unwrap().iter().find_map(|e| {
            let kind = e["type"].as_str().unwrap();
            (kind == "turn.completed" || kind == "turn.failed").then(|| kind.to_owned())
        });
        if let Some(kind) = ended {
            return kind;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the turn of session {id} did not end")
}

#[tokio::test]
async fn the_org_default_model_is_the_last_step_of_model_resolution() {
    let app = app().await;
    let (status, settings, _) = call(&app, Method::GET, SETTINGS, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings, json!({"default_model_id": null, "deployment_default_model": "llmsim-echo"}));
    assert_eq!(turn_outcome(&app, json!({})).await, "turn.completed", "the deployment default echoes");

    // The org default applies to a session that names no model, at once.
    let fail = model(&app, "llmsim-fail").await;
    let (status, settings, _) = call(&app, Method::PATCH, SETTINGS, Some(json!({"default_model_id": fail}))).await;
    assert_eq!((status, &settings["default_model_id"]), (StatusCode::OK, &json!(fail)));
    assert_eq!(call(&app, Method::GET, SETTINGS, None).await.1["default_model_id"], json!(fail));
    assert_eq!(turn_outcome(&app, json!({})).await, "turn.failed", "llmsim-fail is now the default");

    // Anything in the chain wins over it: here the session's model.
    let echo = model(&app, "llmsim-echo").await;
    assert_eq!(turn_outcome(&app, json!({"model_id": echo})).await, "turn.completed");

    // An empty PATCH changes nothing; null unsets it.
    assert_eq!(call(&app, Method::PATCH, SETTINGS, Some(json!({}))).await.1["default_model_id"], json!(fail));
    let (_, settings, _) = call(&app, Method::PATCH, SETTINGS, Some(json!({"default_model_id": null}))).await;
    assert_eq!(settings["default_model_id"], Value::Null);
    assert_eq!(turn_outcome(&app, json!({})).await, "turn.completed");

    // Deleting the default model unsets it.
    call(&app, Method::PATCH, SETTINGS, Some(json!({"default_model_id": fail}))).await;
    let (status, _, _) = call(&app, Method::DELETE, &format!("/api/v1/models/{fail}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, Method::GET, SETTINGS, None).await.1["default_model_id"], Value::Null);
    assert_eq!(turn_outcome(&app, json!({})).await, "turn.completed");
}

#[tokio::test]
async fn a_default_model_that_cannot_serve_is_refused_with_a_4xx() {
    let app = app().await;
    let patch = |body: Value| {
        let app = app.clone();
        async move { call(&app, Method::PATCH, SETTINGS, Some(body)).await }
    };
    let (status, body, _) = patch(json!({"default_model_id": "gpt-4"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid model id");
    let (status, body, _) = patch(json!({"default_model_id": 7})).await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("default_model_id"), "{body}");
    let (status, body, _) = patch(json!({"default_model_id": format!("model_{}", "0".repeat(32))})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "model");

    // A disabled model, and an enabled model of a disabled provider.
    let slow = model(&app, "llmsim-slow").await;
    call(&app, Method::PATCH, &format!("/api/v1/models/{slow}"), Some(json!({"enabled": false}))).await;
    let (status, body, _) = patch(json!({"default_model_id": slow})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "is disabled");
    let (_, provider, _) = call(
        &app,
        Method::POST,
        "/api/v1/providers",
        Some(json!({"name": "off", "provider_type": "llmsim", "status": "disabled"})),
    )
    .await;
    let provider = provider["id"].as_str().unwrap();
    let (_, added, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/providers/{provider}/models"),
        Some(json!({"model_id": "llmsim-echo", "display_name": "Echo (off)"})),
    )
    .await;
    let (status, body, _) = patch(json!({"default_model_id": added["id"]})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "provider");
    assert_eq!(call(&app, Method::GET, SETTINGS, None).await.1["default_model_id"], Value::Null, "nothing changed");
}
