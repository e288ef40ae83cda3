//! The I/O of a `tools/call` answered as an event stream (`shared::mcp_server::relay`): the
//! execution's `watch_execution` stream, read as it comes and rewritten by a
//! [`Relay`](shared::mcp_server::relay::Relay) into the request's MCP messages; and a client's
//! `notifications/cancelled`, turned into `cancel_execution` through the KV entry the call left;
//! and a client's response to a relayed server→client request, sent on as `answer_execution`.
//!
//! Invariants:
//! - Nothing is buffered beyond one chunk: each chunk of the watch stream is sent on as the
//!   messages it completes. Log messages below the client's `logging/setLevel` (one KV read
//!   per streamed call, `relay::level_key`) are dropped. After the response the watch stream is dropped (closed).
//! - The KV entry of a call ([`relay::cancel_key`]) lives for the longest background budget;
//!   a cancellation reads it, deletes it, and cancels as the caller (so `cancel_execution`'s
//!   own rule decides, and an unknown or ended call changes nothing).

use edge_cloudflare::{Bindings, WorkerResultExt};
use futures::StreamExt;
use serde_json::{json, Value};
use shared::api::{Action, BackgroundAction};
use shared::background::MAX_ASYNC_TIMEOUT_SECS;
use shared::cache::Cache;
use shared::gateway::binding_of;
use shared::identity::Identity;
use shared::internal::Envelope;
use shared::mcp_server::relay::{self, Relay};
use shared::Error;
use worker::{Env, Response};

use crate::{forward_raw, Relayed};

/// One action request to an action worker as `identity`.
async fn send(
    env: &Env,
    identity: &Identity,
    request_id: &str,
    traceparent: &str,
    action: Action,
    request: Value,
) -> Result<Relayed, Error> {
    let envelope = Envelope {
        request_id: request_id.to_string(),
        identity: identity.clone(),
        request,
        config_version: None,
        traceparent: Some(traceparent.to_string()),
        reservation: None,
    };
    forward_raw(
        env,
        binding_of(action.route()),
        action.name(),
        &envelope,
        None,
    )
    .await
}

/// What a streamed call needs to answer its request.
pub(crate) struct StreamedCall<'a> {
    pub identity: &'a Identity,
    pub request_id: &'a str,
    pub traceparent: &'a str,
    /// The client's JSON-RPC id, `progressToken` and `Mcp-Session-Id` header.
    pub rpc_id: Value,
    pub token: Option<Value>,
    pub session: Option<&'a str>,
    /// The tool as the client named it.
    pub name: &'a str,
    pub execution_id: &'a str,
}

/// Remembers the call for a cancellation, then answers the request with the execution's
/// events as MCP messages.
pub(crate) async fn relay_call(env: &Env, call: StreamedCall<'_>) -> Result<Response, Error> {
    let key = relay::cancel_key(&call.identity.user_id, call.session, &call.rpc_id);
    let cache = Bindings::new(env).cache()?;
    cache
        .put(&key, call.execution_id, MAX_ASYNC_TIMEOUT_SECS)
        .await?;
    let level = cache
        .get(&relay::level_key(&call.identity.user_id, call.session))
        .await?;
    let watched = send(
        env,
        call.identity,
        call.request_id,
        call.traceparent,
        Action::Background(BackgroundAction::WatchExecution),
        json!({ "action": "watch_execution", "execution_id": call.execution_id }),
    )
    .await?;
    let mut watch = match watched {
        Relayed::Stream(response) => response,
        Relayed::Answer(answer) => {
            return Err(Error::internal(format!(
                "watch_execution answered {} instead of a stream",
                answer.status
            )))
        }
    };
    let body = watch.stream().or_internal("the execution's event stream")?;
    let relay = Relay::new(
        call.rpc_id,
        call.token,
        call.name,
        call.execution_id,
        call.request_id,
    )
    .with_min_level(level.as_deref());
    let messages = futures::stream::unfold((Some(body), relay), |(body, mut relay)| async move {
        let mut body = body?;
        loop {
            if relay.is_done() {
                return None;
            }
            let text = match body.next().await {
                Some(Ok(chunk)) => relay.feed(&chunk),
                Some(Err(_)) | None => {
                    let text = relay.end();
                    return Some((
                        Ok::<Vec<u8>, worker::Error>(text.into_bytes()),
                        (None, relay),
                    ));
                }
            };
            if !text.is_empty() {
                return Some((Ok(text.into_bytes()), (Some(body), relay)));
            }
        }
    });
    edge_cloudflare::event_stream::response(messages, "the call's event stream")
}

/// The execution a client's cancelled request runs as, taken from KV (`None`: no streamed
/// call of this user has that id any more).
pub(crate) async fn take_cancelled(
    env: &Env,
    user_id: &str,
    session: Option<&str>,
    rpc_id: &Value,
) -> Result<Option<String>, Error> {
    let key = relay::cancel_key(user_id, session, rpc_id);
    let cache = Bindings::new(env).cache()?;
    let found = cache.get(&key).await?;
    if found.is_some() {
        cache.delete(&key).await?;
    }
    Ok(found)
}

/// Cancels `execution_id` as `identity`; an execution that already ended (409) or is not
/// the caller's (404) is left as it is.
pub(crate) async fn cancel(
    env: &Env,
    identity: &Identity,
    request_id: &str,
    traceparent: &str,
    execution_id: &str,
) -> Result<(), Error> {
    send(
        env,
        identity,
        request_id,
        traceparent,
        Action::Background(BackgroundAction::CancelExecution),
        json!({ "action": "cancel_execution", "execution_id": execution_id }),
    )
    .await?;
    Ok(())
}

/// A client's response to a relayed server→client request (`relay::routed_answer`).
pub(crate) struct Answering<'a> {
    pub execution_id: &'a str,
    pub request_id: &'a str,
    pub response: Value,
}

/// Sends the client's response to the execution as `identity`; a refusal (not the caller's,
/// no such request waiting) is a failure of this POST.
pub(crate) async fn answer_request(
    env: &Env,
    identity: &Identity,
    request_id: &str,
    traceparent: &str,
    answering: Answering<'_>,
) -> Result<(), Error> {
    let answered = send(
        env,
        identity,
        request_id,
        traceparent,
        Action::Background(BackgroundAction::AnswerExecution),
        json!({ "action": "answer_execution", "execution_id": answering.execution_id,
                "request_id": answering.request_id, "response": answering.response }),
    )
    .await?;
    match answered {
        Relayed::Answer(answer) if answer.status == 200 => Ok(()),
        Relayed::Answer(answer) => {
            let body = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            Err(shared::mcp_server::message::error_of_answer(
                answer.status,
                &body,
            ))
        }
        Relayed::Stream(_) => Err(Error::internal("answer_execution answered a stream")),
    }
}
