//! Server-sent events: each event's `event:` line is its type (e.g. `desired_lrp_created`) and
//! its `data:` line the event as JSON. A subscriber that falls behind gets one `error` event
//! (the error as JSON) and the stream ends.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt, future};

use crate::error::Error;
use crate::http::Api;

fn to_sse(item: Result<crate::models::Event, Error>) -> Result<SseEvent, Infallible> {
    let event = match item {
        Ok(event) => SseEvent::default()
            .event(event.event_type())
            .data(serde_json::to_string(&event).unwrap_or_default()),
        Err(err) => SseEvent::default()
            .event("error")
            .data(serde_json::to_string(&err).unwrap_or_default()),
    };
    Ok(event)
}

type SseStream = Sse<
    axum::response::sse::KeepAliveStream<
        std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>>,
    >,
>;

pub(crate) async fn subscribe_to_events(State(api): State<Api>) -> Result<SseStream, Error> {
    let events = api.subscribe().await?;
    Ok(Sse::new(events.map(to_sse).boxed()).keep_alive(KeepAlive::default()))
}

pub(crate) async fn subscribe_to_task_events(State(api): State<Api>) -> Result<SseStream, Error> {
    let events = api.subscribe().await?;
    let tasks_only = events.filter(|item| {
        future::ready(match item {
            Ok(event) => event.is_task_event(),
            Err(_) => true,
        })
    });
    Ok(Sse::new(tasks_only.map(to_sse).boxed()).keep_alive(KeepAlive::default()))
}
