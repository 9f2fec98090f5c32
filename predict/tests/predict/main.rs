//! The predict service as its clients see it: the KServe v1 request shapes and every refusal
//! (`requests`), reloading a changed artifact (`reload`), and the local HTTP server with real
//! connections (`http`).

mod fixtures;
mod http;
mod reload;
mod requests;
