//! How the serving tasks wait after state.db refused a write: what the write guarded has not
//! happened, and is tried again after a pause rather than in a loop that floods the log and the
//! functions it calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The pause before a task tries again what a refused write held back.
pub(super) const PAUSE: Duration = Duration::from_secs(1);

/// Sleeps [`PAUSE`] on a runner thread, ending early when the server stops.
pub(super) fn pause_thread(stop: &AtomicBool) {
    let until = Instant::now() + PAUSE;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
