//! The one shape of every event-stream answer this project gives (`watch_execution` from the
//! execution's object, relayed by call_tool and by the gateway; `/mcp`'s streamed calls):
//! `text/event-stream`, never cached, its body passed on as it comes.

use futures::TryStream;
use shared::background::stream::CONTENT_TYPE;
use shared::Result;
use worker::Response;

use crate::error::WorkerResultExt;

/// An event-stream response with `body`; `what` names it in an error.
pub fn response<S>(body: S, what: &str) -> Result<Response>
where
    S: TryStream + 'static,
    S::Ok: Into<Vec<u8>>,
    S::Error: Into<worker::Error>,
{
    let response = Response::from_stream(body).or_internal(what)?;
    let headers = response.headers();
    headers
        .set("content-type", CONTENT_TYPE)
        .or_internal(what)?;
    headers.set("cache-control", "no-cache").or_internal(what)?;
    Ok(response)
}
