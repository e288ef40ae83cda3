//! The I/O of `/mcp`'s standalone stream (`GET` with `Accept: text/event-stream`): the team
//! object's catalogue watch, read as it comes and rewritten by a
//! [`Listen`](shared::mcp_server::listen::Listen) into `notifications/tools/list_changed`,
//! with a keep-alive comment every [`HEARTBEAT_MS`] and an end after the stream's lifetime.
//!
//! Invariants:
//! - The watch is held only by this request: when the client goes away the runtime drops
//!   the stream, and with it the watch (the object forgets it at its next change).
//! - The stream ends (with a `retry:` hint) after its lifetime, or as soon as the object's
//!   watch ends or breaks (an object that restarts has a new stamp: a client that reconnects
//!   from its last id is told of a change).
//! - Nothing is buffered beyond one chunk of the watch.

use std::time::Duration;

use edge_cloudflare::team_gate::stub;
use edge_cloudflare::{Bindings, WorkerResultExt};
use futures::stream::{self, StreamExt};
use shared::mcp_server::listen::{Listen, HEARTBEAT_MS, WATCH_URL};
use shared::ratelimit::RateLimitConfig;
use shared::Error;
use worker::{Delay, Env, Response};

/// What the stream reacts to next.
enum Step {
    Watch(Result<Vec<u8>, worker::Error>),
    /// The object's watch ended.
    WatchEnded,
    Heartbeat,
    Lifetime,
}

/// Answers a standalone `GET` of `team_id` for a client resuming from `last_event_id`.
pub(crate) async fn open(
    env: &Env,
    team_id: &str,
    last_event_id: Option<&str>,
    lifetime_ms: u64,
) -> Result<Response, Error> {
    let bindings = Bindings::new(env);
    let config = RateLimitConfig::from_vars(|name| bindings.var(name))?;
    let object = stub(env, &config.binding, team_id)?;
    let mut watch = object
        .fetch_with_str(WATCH_URL)
        .await
        .or_internal("the team's catalogue watch")?;
    if watch.status_code() != 200 {
        return Err(Error::internal(format!(
            "the team's catalogue watch answered {}",
            watch.status_code()
        )));
    }
    let body = watch.stream().or_internal("the team's catalogue watch")?;
    let watched = body
        .map(Step::Watch)
        .chain(stream::once(async { Step::WatchEnded }))
        .boxed_local();
    let heartbeats = stream::unfold((), |()| async {
        Delay::from(Duration::from_millis(HEARTBEAT_MS)).await;
        Some((Step::Heartbeat, ()))
    })
    .boxed_local();
    let lifetime = stream::once(async move {
        Delay::from(Duration::from_millis(lifetime_ms)).await;
        Step::Lifetime
    })
    .boxed_local();
    let steps = stream::select(stream::select(watched, heartbeats), lifetime);
    let listen = Listen::new(last_event_id);
    let text = stream::unfold(Some((steps, listen)), |state| async move {
        let (mut steps, mut listen) = state?;
        loop {
            let text = match steps.next().await {
                Some(Step::Watch(Ok(chunk))) => listen.feed(&chunk),
                Some(Step::Heartbeat) => listen.heartbeat(),
                Some(Step::Watch(Err(_)) | Step::WatchEnded | Step::Lifetime) | None => {
                    return Some((
                        Ok::<Vec<u8>, worker::Error>(listen.end().into_bytes()),
                        None,
                    ));
                }
            };
            if !text.is_empty() {
                return Some((Ok(text.into_bytes()), Some((steps, listen))));
            }
        }
    });
    edge_cloudflare::event_stream::response(text, "the standalone stream")
}
