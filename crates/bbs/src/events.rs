//! The events hub: every committed change, broadcast to subscribers. Each subscriber has a
//! bounded backlog; one that falls further behind is dropped with `SUBSCRIBER_LAGGED` rather
//! than slowing the BBS or growing memory without bound.

use futures::stream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::api::EventStream;
use crate::error::{Error, SUBSCRIBER_LAGGED};
use crate::models::Event;

pub(crate) struct EventHub {
    sender: broadcast::Sender<Event>,
    shutdown: CancellationToken,
}

impl EventHub {
    pub(crate) fn new(buffer: usize, shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(buffer.max(1));
        Self { sender, shutdown }
    }

    /// Publishes one event. Call only after the change is committed.
    pub(crate) fn emit(&self, event: Event) {
        tracing::debug!(event = event.event_type(), "bbs: event");
        // No subscribers is fine.
        let _ = self.sender.send(event);
    }

    pub(crate) fn subscribe(&self) -> EventStream {
        let receiver = self.sender.subscribe();
        let shutdown = self.shutdown.clone();
        EventStream::new(stream::unfold(
            Some((receiver, shutdown)),
            |state| async move {
                let (mut receiver, shutdown) = state?;
                let next = tokio::select! {
                    () = shutdown.cancelled() => return None,
                    next = receiver.recv() => next,
                };
                match next {
                    Ok(event) => Some((Ok(event), Some((receiver, shutdown)))),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "bbs: dropping a slow event subscriber");
                        Some((Err(Error::unavailable(SUBSCRIBER_LAGGED)), None))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Task;

    fn event(n: i64) -> Event {
        Event::TaskCreated {
            task: Box::new(Task {
                created_at: n,
                ..Task::default()
            }),
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_drops_a_slow_subscriber() {
        let hub = EventHub::new(2, CancellationToken::new());
        let mut fast = hub.subscribe();
        hub.emit(event(1));
        assert_eq!(fast.next().await, Some(Ok(event(1))));

        let mut slow = hub.subscribe();
        for n in 2..6 {
            hub.emit(event(n));
        }
        let err = slow.next().await.unwrap().unwrap_err();
        assert!(err.is_subscriber_lagged());
        assert_eq!(
            slow.next().await,
            None,
            "a dropped subscriber's stream ends"
        );
    }

    #[tokio::test]
    async fn streams_end_on_shutdown() {
        let shutdown = CancellationToken::new();
        let hub = EventHub::new(8, shutdown.clone());
        let mut sub = hub.subscribe();
        shutdown.cancel();
        assert_eq!(sub.next().await, None);
    }
}
