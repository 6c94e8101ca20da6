//! Time, passed in so tests control it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Where queue times and wait durations come from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// Tokio's clock: real time, or paused time under `#[tokio::test(start_paused = true)]`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct FakeClock(Mutex<Instant>);

impl FakeClock {
    pub fn new(at: Instant) -> Self {
        Self(Mutex::new(at))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *self.0.lock().expect("clock lock")
    }
}
