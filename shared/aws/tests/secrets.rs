//! `<NAME>_SECRET_ARN` against moto's Secrets Manager (`AWS_ENDPOINT_URL`; scripts/test starts
//! moto_server on 127.0.0.1): resolved values, a directly set variable winning, RDS documents,
//! and a missing secret failing with the variable and the ARN named.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

async fn client() -> aws_sdk_secretsmanager::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| v.starts_with("http://127.0.0.1")),
        "AWS_ENDPOINT_URL must point at a local moto_server: run scripts/test"
    );
    aws_sdk_secretsmanager::Client::new(&everruns_aws::sdk_config().await)
}

async fn secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!("everruns-test-{}", std::process::id() as u128 * 1_000_000 + rand_suffix());
    client.create_secret().name(name).secret_string(value).send().await.unwrap().arn.unwrap()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000
}

#[tokio::test]
async fn secret_arns_resolve_once_and_missing_ones_fail_clearly() {
    let client = client().await;
    let token = secret(&client, "grpc-token-from-secrets-manager").await;
    let rds =
        secret(&client, r#"{"username":"app","password":"s3cr3t","host":"127.0.0.1","port":5432,"dbname":"everruns"}"#)
            .await;
    let env: HashMap<String, String> = HashMap::from([
        ("WORKER_GRPC_AUTH_TOKEN_SECRET_ARN".to_owned(), token),
        ("DATABASE_URL_SECRET_ARN".to_owned(), rds),
        ("SECRETS_ENCRYPTION_KEY".to_owned(), "kek-v1:direct".to_owned()),
        (
            "SECRETS_ENCRYPTION_KEY_SECRET_ARN".to_owned(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:unused".to_owned(),
        ),
    ]);
    let names = ["SECRETS_ENCRYPTION_KEY", "WORKER_GRPC_AUTH_TOKEN", "DATABASE_URL"];
    let resolved = everruns_aws::secrets::resolve(&names, |n| env.get(n).cloned()).await.unwrap();
    assert_eq!(resolved["WORKER_GRPC_AUTH_TOKEN"], "grpc-token-from-secrets-manager");
    assert_eq!(resolved["DATABASE_URL"], "postgres://app:s3cr3t@127.0.0.1:5432/everruns");
    assert!(!resolved.contains_key("SECRETS_ENCRYPTION_KEY"), "a variable set directly wins");

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist";
    let env = HashMap::from([("WORKER_GRPC_AUTH_TOKEN_SECRET_ARN".to_owned(), missing.to_owned())]);
    let error = everruns_aws::secrets::resolve(&names, |n| env.get(n).cloned()).await.unwrap_err().to_string();
    assert!(error.starts_with(&format!("WORKER_GRPC_AUTH_TOKEN_SECRET_ARN={missing}: ")), "{error}");
    assert!(error.to_lowercase().contains("resourcenotfound") || error.contains("can't find"), "{error}");
}
