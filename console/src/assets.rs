//! The page and its files, compiled into the binary: no Node.js and no file reads at run time.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Every file the page loads: its path under `/assets/`, content type and bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("css/app.css", CSS, include_bytes!("../assets/css/app.css")),
    (
        "css/pages.css",
        CSS,
        include_bytes!("../assets/css/pages.css"),
    ),
    ("js/dom.js", JS, include_bytes!("../assets/js/dom.js")),
    ("js/api.js", JS, include_bytes!("../assets/js/api.js")),
    ("js/graph.js", JS, include_bytes!("../assets/js/graph.js")),
    (
        "js/json_view.js",
        JS,
        include_bytes!("../assets/js/json_view.js"),
    ),
    (
        "js/executions.js",
        JS,
        include_bytes!("../assets/js/executions.js"),
    ),
    (
        "js/execution.js",
        JS,
        include_bytes!("../assets/js/execution.js"),
    ),
    ("js/jobs.js", JS, include_bytes!("../assets/js/jobs.js")),
    ("js/batch.js", JS, include_bytes!("../assets/js/batch.js")),
    ("js/start.js", JS, include_bytes!("../assets/js/start.js")),
    (
        "js/schedules.js",
        JS,
        include_bytes!("../assets/js/schedules.js"),
    ),
    (
        "js/machine.js",
        JS,
        include_bytes!("../assets/js/machine.js"),
    ),
    ("js/app.js", JS, include_bytes!("../assets/js/app.js")),
    (
        "vendor/dagre.min.js",
        JS,
        include_bytes!("../assets/vendor/dagre.min.js"),
    ),
    (
        "vendor/dagre.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/vendor/dagre.LICENSE.txt"),
    ),
];

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../assets/index.html");

/// `GET /`: the single page.
pub(crate) async fn index() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        INDEX,
    )
        .into_response()
}

/// `GET /assets/{path}`: one of the compiled-in files; nothing else is ever read.
pub(crate) async fn file(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((_, content_type, bytes)) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            *bytes,
        )
            .into_response(),
        None => not_found().await,
    }
}

/// Any other path.
pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        "not found",
    )
        .into_response()
}
