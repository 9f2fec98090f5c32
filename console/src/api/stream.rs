//! Live updates of one execution as server-sent events: an `update` event with the execution,
//! every state's run and the history events not sent yet, whenever it changes, until it ends.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::Value;

use super::executions::describe;
use super::path;
use crate::app::Shared;
use crate::error::ApiResult;

/// How often a followed execution is read again.
const POLL: Duration = Duration::from_millis(250);

struct Cursor {
    state: Shared,
    name: String,
    sent: usize,
    last_status: Option<Value>,
    ended: bool,
}

/// `GET /api/executions/{name}/stream`: `update` events while the execution changes; `end`
/// once it has ended; `error` (and the end of the stream) when it cannot be read.
pub(crate) async fn follow(
    State(s): State<Shared>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let name = path(name)?;
    // fail now, as JSON, if there is no such execution
    describe(&s, &name, usize::MAX).await?;
    let start = Cursor {
        state: s,
        name,
        sent: 0,
        last_status: None,
        ended: false,
    };
    let stream = futures::stream::unfold(start, |mut c| async move {
        if c.ended {
            return None;
        }
        loop {
            let detail = match describe(&c.state, &c.name, c.sent).await {
                Ok(d) => d,
                Err(e) => {
                    c.ended = true;
                    let body = serde_json::json!({"message": e.message}).to_string();
                    return Some((Ok(Event::default().event("error").data(body)), c));
                }
            };
            let total = detail["event_count"].as_u64().unwrap_or(0) as usize;
            let status = detail["execution"]["status"].clone();
            let changed = total != c.sent || c.last_status.as_ref() != Some(&status);
            let running = status == "RUNNING";
            if changed {
                c.sent = total;
                c.last_status = Some(status);
                let event = Event::default().event("update").data(detail.to_string());
                return Some((Ok(event), c));
            }
            if !running {
                c.ended = true;
                return Some((Ok(Event::default().event("end").data("{}")), c));
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
