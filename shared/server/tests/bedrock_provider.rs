//! A Bedrock provider end to end in DEV_MODE: created over the API with typed `credentials`
//! (sealed like a key, never echoed, bad shapes refused with a 400 JSON body), a model under it,
//! and a turn answered through the real AWS SDK by a loopback fake of ConverseStream, signed with
//! the stored keys in the stored region.
#![allow(clippy::unwrap_used)]

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

mod support;
use support::{app, assert_error, call};

#[path = "../../drivers/bedrock/tests/support/mod.rs"]
mod bedrock_fake;
use bedrock_fake::{FakeBedrock, Reply, text_answer};

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

async fn wait_idle(app: &axum::Router, session: &str) -> Value {
    for _ in 0..500 {
        let (_, body, _) = call(app, Method::GET, &format!("/api/v1/sessions/{session}/events"), None).await;
        if body["data"].as_array().unwrap().iter().any(|e| e["type"] == "session.idled") {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the turn did not finish");
}

#[tokio::test]
async fn a_bedrock_provider_with_credentials_answers_a_turn() {
    let fake = FakeBedrock::start(vec![Reply::Events(text_answer(&["Hello ", "from ", "Bedrock"]))]).await;
    let app = app().await;

    // Bad credential shapes are 400 JSON errors that quote no value.
    for bad in [json!("AKID"), json!(["a"]), json!({"secret_access_key": 12345}), json!({"region": {"x": 1}})] {
        let body = json!({"name": "b", "provider_type": "bedrock", "credentials": bad});
        let (status, error, _) = call(&app, Method::POST, "/api/v1/providers", Some(body)).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "credentials");
        assert!(!error.to_string().contains("12345"));
    }

    let credentials =
        json!({"access_key_id": "AKIDSERVER", "secret_access_key": "SECRETSERVER", "region": "eu-west-3"});
    let body = json!({
        "name": "AWS Bedrock (test)", "provider_type": "bedrock", "base_url": fake.base_url,
        "api_key": "ignored-in-favour-of-credentials", "credentials": credentials,
    });
    let (status, provider, _) = call(&app, Method::POST, "/api/v1/providers", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{provider}");
    assert_eq!(provider["api_key_set"], true);
    let provider_id = provider["id"].as_str().unwrap().to_owned();
    for path in ["/api/v1/providers".to_owned(), format!("/api/v1/providers/{provider_id}")] {
        let (_, listed, _) = call(&app, Method::GET, &path, None).await;
        assert!(!listed.to_string().contains("SECRETSERVER") && !listed.to_string().contains("credentials"));
    }
    let patch = json!({"credentials": {"secret_access_key": true}});
    let (status, error, _) = call(&app, Method::PATCH, &format!("/api/v1/providers/{provider_id}"), Some(patch)).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "credentials.secret_access_key must be a string");

    let model = json!({"model_id": MODEL, "display_name": "Claude 3.5 Haiku (test)"});
    let (status, model, _) =
        call(&app, Method::POST, &format!("/api/v1/providers/{provider_id}/models"), Some(model)).await;
    assert_eq!(status, StatusCode::CREATED, "{model}");
    let (_, models, _) = call(&app, Method::GET, "/api/v1/models", None).await;
    let listed = models["data"].as_array().unwrap().iter().find(|m| m["id"] == model["id"]).unwrap();
    assert_eq!((listed["provider_type"].as_str(), listed["healthy"].as_bool()), (Some("bedrock"), Some(true)));

    let session = json!({"title": "bedrock", "model_id": model["id"]});
    let (status, session, _) = call(&app, Method::POST, "/api/v1/sessions", Some(session)).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let id = session["id"].as_str().unwrap().to_owned();
    let message = json!({"message": {"role": "user", "content": [{"type": "text", "text": "ping"}]}});
    let (status, posted, _) = call(&app, Method::POST, &format!("/api/v1/sessions/{id}/messages"), Some(message)).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let events = wait_idle(&app, &id).await;
    let types: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"turn.completed"), "{types:?}");

    let (_, messages, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{id}/messages"), None).await;
    let texts: Vec<&str> =
        messages["data"].as_array().unwrap().iter().filter_map(|m| m["content"][0]["text"].as_str()).collect();
    assert_eq!(texts, ["ping", "Hello from Bedrock"]);

    let sent = fake.converse_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream");
    let authorization = sent[0].header("authorization");
    assert!(authorization.contains("Credential=AKIDSERVER/") && authorization.contains("/eu-west-3/bedrock/"));
    assert_eq!(sent[0].json()["messages"][0]["content"][0]["text"], "ping");
}
