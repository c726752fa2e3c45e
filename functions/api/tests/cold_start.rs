//! The API function's cold start with a secret that cannot be loaded fails its init with a clear
//! error naming the variable and the ARN (moto's Secrets Manager at `AWS_ENDPOINT_URL`; scripts/test
//! starts it on 127.0.0.1).
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn a_missing_secret_fails_the_init_clearly() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL (moto) is required: run scripts/test");
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:everruns/missing-database-url";
    let output = Command::new(env!("CARGO_BIN_EXE_everruns-api"))
        .env_clear()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("DATABASE_URL_SECRET_ARN", arn)
        .env("SECRETS_ENCRYPTION_KEY", "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .env("TASK_QUEUE_URL", "http://127.0.0.1:9/000000000000/tasks")
        .output()
        .unwrap();
    assert!(!output.status.success(), "the init must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("DATABASE_URL_SECRET_ARN={arn}")), "{stderr}");
    assert!(stderr.contains("ResourceNotFound") || stderr.contains("can't find"), "{stderr}");
}
