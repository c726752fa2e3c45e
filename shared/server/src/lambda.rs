//! Helpers for the Lambda entry points.

/// Console logging for a Lambda (no colours, no timestamps: CloudWatch adds them), filtered by
/// `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_ansi(false).without_time().with_env_filter(filter).try_init();
}
