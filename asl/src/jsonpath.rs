//! (module owned by the JSONPath/intrinsics work; see lib.rs)
