//! Empty library target of the harness crate: a package needs one target, and the SDK's
//! examples (copied into `examples/` by `scripts/sdk-examples`) are discovered by cargo as
//! this package's examples.
