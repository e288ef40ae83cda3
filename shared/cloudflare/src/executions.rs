//! call_tool's side of the `Execution` objects (`crate::execution`, binding `EXECUTION`):
//! handing a prepared call over ([`ExecutionObjects`] as `shared::background::Background`),
//! and the actions that read or steer a running execution: `get_execution` (the object's
//! state and events; an execution no object holds is read from D1 as before),
//! `watch_execution` (the object's event stream, passed through unbuffered) and
//! `cancel_execution`, `answer_execution` (a watcher's answer to a server→client request the
//! call waits on, `shared::background::ask`); and `call_tool`'s stated wait
//! ([`Background::wait`], the object's `/wait`). The object decides who may see what
//! (`shared::background::may_act`).

use futures::future::LocalBoxFuture;
use serde::Serialize;
use serde_json::Value;
use shared::actions::Reply;
use shared::api::{ActionRequest, MAX_ID_LEN};
use shared::background::ask::Answering;
use shared::background::journal::Event;
use shared::background::{
    stream, Background, Handoff, Viewing, ANSWER_URL, CANCEL_URL, START_URL, STATE_URL, WAIT_URL,
    WATCH_URL,
};
use shared::identity::Identity;
use shared::{Error, Result};
use worker::{Env, Headers, Method, ObjectNamespace, Request, RequestInit, Response, Stub};

use crate::error::WorkerResultExt;
use crate::shell::Answer;

/// The binding of the `Execution` class (hosted by call_tool).
pub const BINDING: &str = "EXECUTION";

pub struct ExecutionObjects {
    namespace: ObjectNamespace,
}

impl ExecutionObjects {
    /// `None` when the worker has no `EXECUTION` binding.
    pub fn for_env(env: &Env) -> Option<ExecutionObjects> {
        env.durable_object(BINDING)
            .ok()
            .map(|namespace| ExecutionObjects { namespace })
    }

    fn stub(&self, execution_id: &str) -> Result<Stub> {
        self.namespace
            .id_from_name(execution_id)
            .and_then(|id| id.get_stub())
            .or_internal("execution object stub")
    }
}

async fn post<T: Serialize>(stub: &Stub, url: &str, body: &T) -> Result<Response> {
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .or_internal("execution request")?;
    let body = serde_json::to_string(body).map_err(Error::internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = Request::new_with_init(url, &init).or_internal("execution request")?;
    stub.fetch_with_request(request)
        .await
        .or_internal("execution object")
}

/// An answer of the object as a reply: its status and JSON body (an error body is the error
/// contract already; its request id is set by the caller's shell).
async fn reply_of(mut response: Response, request_id: &str) -> Result<Reply> {
    let status = response.status_code();
    let mut body: Value = response
        .json()
        .await
        .or_internal("execution object answer")?;
    if status >= 400 {
        body["request_id"] = Value::String(request_id.to_string());
    }
    Ok(Reply { status, body })
}

impl Background for ExecutionObjects {
    fn start<'a>(&'a self, handoff: &'a Handoff) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let stub = self.stub(&handoff.record.id)?;
            let mut answer = post(&stub, START_URL, handoff).await?;
            match answer.status_code() {
                202 => Ok(()),
                status => {
                    let text = answer.text().await.unwrap_or_default();
                    Err(Error::internal(format!(
                        "the execution object answered {status}: {text}"
                    )))
                }
            }
        })
    }

    fn wait<'a>(
        &'a self,
        execution_id: &'a str,
        viewer: &'a Identity,
        wait_ms: u64,
    ) -> LocalBoxFuture<'a, Result<Option<Event>>> {
        Box::pin(async move {
            let stub = self.stub(execution_id)?;
            let viewing = Viewing {
                wait_ms: Some(wait_ms),
                ..Viewing::by(viewer)
            };
            let mut answer = post(&stub, WAIT_URL, &viewing).await?;
            if answer.status_code() != 200 {
                let text = answer.text().await.unwrap_or_default();
                return Err(Error::internal(format!(
                    "the execution object answered {}: {text}",
                    answer.status_code()
                )));
            }
            let waited: Waited = answer.json().await.or_internal("execution object answer")?;
            Ok(waited.event)
        })
    }
}

/// The object's `/wait` answer: the final event, if it came within the wait.
#[derive(serde::Deserialize)]
struct Waited {
    event: Option<Event>,
}

fn execution_id(req: &ActionRequest) -> Result<&str> {
    let id = req.required_str("execution_id", MAX_ID_LEN)?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::NotFound(format!(
            "execution '{id}' not found in your team"
        )));
    }
    Ok(id)
}

fn objects(env: &Env) -> Result<ExecutionObjects> {
    ExecutionObjects::for_env(env)
        .ok_or_else(|| Error::internal(format!("the call_tool worker has no {BINDING} binding")))
}

/// `get_execution` of an execution its object holds; `None`: no object holds it (the caller
/// reads D1).
pub async fn state(
    env: &Env,
    viewer: &Identity,
    req: &ActionRequest,
    request_id: &str,
) -> Result<Option<Reply>> {
    let id = execution_id(req)?;
    let stub = objects(env)?.stub(id)?;
    let viewing = Viewing::by(viewer);
    let answer = post(&stub, STATE_URL, &viewing).await?;
    if answer.status_code() == 404 {
        return Ok(None);
    }
    reply_of(answer, request_id).await.map(Some)
}

/// `watch_execution`: the object's event stream, relayed as it comes (a response of our own:
/// the object's has immutable headers), or its error answer.
pub async fn watch(
    env: &Env,
    viewer: &Identity,
    req: &ActionRequest,
    request_id: &str,
) -> Result<Answer> {
    let id = execution_id(req)?;
    let last_event_id = stream::resume_point(None, req.body.get("last_event_id"))?;
    let stub = objects(env)?.stub(id)?;
    let viewing = Viewing {
        last_event_id,
        ..Viewing::by(viewer)
    };
    let mut answer = post(&stub, WATCH_URL, &viewing).await?;
    if answer.status_code() != 200 {
        return reply_of(answer, request_id).await.map(Answer::Reply);
    }
    let body = answer
        .stream()
        .or_internal("the execution's event stream")?;
    let response = crate::event_stream::response(body, "the execution's event stream")?;
    Ok(Answer::Response(response))
}

/// `cancel_execution`.
pub async fn cancel(
    env: &Env,
    viewer: &Identity,
    req: &ActionRequest,
    request_id: &str,
) -> Result<Reply> {
    let id = execution_id(req)?;
    let stub = objects(env)?.stub(id)?;
    let viewing = Viewing::by(viewer);
    let answer = post(&stub, CANCEL_URL, &viewing).await?;
    reply_of(answer, request_id).await
}

/// `answer_execution`: `request_id` (the journal `request` event's) and `response`
/// (`{"result"}` or `{"error"}`).
pub async fn answer(
    env: &Env,
    viewer: &Identity,
    req: &ActionRequest,
    request_id: &str,
) -> Result<Reply> {
    let id = execution_id(req)?;
    let asked = req.required_str("request_id", MAX_ID_LEN)?.to_string();
    let response = req.body.get("response").cloned().unwrap_or(Value::Null);
    // Refused here, before the object is woken; the object checks it again.
    let _ = shared::background::ask::answer_of(&response)?;
    let stub = objects(env)?.stub(id)?;
    let answering = Answering {
        viewer: viewer.clone(),
        request_id: asked,
        response,
    };
    let answer = post(&stub, ANSWER_URL, &answering).await?;
    reply_of(answer, request_id).await
}
