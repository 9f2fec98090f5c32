//! Every route of the console: the API under `/api/`, the page and its files, behind the guard.
//! (Apart from `app`, whose shared state the API's handlers use.)

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::api;
use crate::app::Shared;
use crate::assets;
use crate::security::{self, Guard};

/// Every route: the API under `/api/`, the page and its files, behind the guard.
pub(crate) fn router(state: Shared, guard: Arc<Guard>) -> Router {
    let api = Router::new()
        .route("/overview", get(api::meta::overview))
        .route("/state-machine", get(api::meta::state_machine))
        .route("/schedules", get(api::meta::schedules))
        .route("/config-schema", get(api::meta::config_schema))
        .route("/executions", get(api::executions::list))
        .route("/executions/{name}", get(api::executions::detail))
        .route("/executions/{name}/stream", get(api::stream::follow))
        .route("/jobs", get(api::jobs::list))
        .route("/jobs/{id}", get(api::jobs::detail))
        .route("/jobs/{id}/logs", get(api::jobs::logs))
        .route("/jobs/{id}/stop", post(api::runs::stop))
        .route("/batch", get(api::batch::overview))
        .route("/batch/jobs/{id}/reclaim", post(api::batch::reclaim))
        .route("/validate", post(api::runs::validate))
        .route("/runs", post(api::runs::start))
        .fallback(api::not_found);
    Router::new()
        .nest("/api", api)
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::file))
        .fallback(assets::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(guard, security::guard))
}
