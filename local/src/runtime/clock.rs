//! [`ScaledClock`]: the runtime's time, real or compressed for tests and demos.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Real time, optionally running faster: `now` advances `scale` times faster than the wall
/// clock from the moment the clock was made, and sleeps are shortened to match.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    scale: f64,
    origin: DateTime<Utc>,
    origin_instant: Instant,
    stop: Option<Arc<AtomicBool>>,
}

impl ScaledClock {
    /// A clock `scale` times faster than real time (1.0 is real time).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        ScaledClock {
            scale,
            origin: Utc::now(),
            origin_instant: Instant::now(),
            stop: None,
        }
    }

    pub(super) fn with_stop(&self, stop: Arc<AtomicBool>) -> Self {
        ScaledClock {
            stop: Some(stop),
            ..self.clone()
        }
    }
}

impl stepscore_asl::Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        if self.scale == 1.0 {
            return Utc::now();
        }
        let real = self.origin_instant.elapsed().mul_f64(self.scale);
        self.origin + chrono::Duration::from_std(real).unwrap_or_default()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) {
        // sleep in slices so a shutting-down server is not held by a long Wait state
        loop {
            let left = (deadline - stepscore_asl::Clock::now(self))
                .to_std()
                .unwrap_or_default();
            if left.is_zero() || self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                return;
            }
            std::thread::sleep(left.div_f64(self.scale).min(Duration::from_millis(100)));
        }
    }
}

impl stepscore_core::ports::Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        stepscore_asl::Clock::now(self)
    }
}
