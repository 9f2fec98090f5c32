//! The ordered parallel pipeline: a reader thread produces blocks of input, one worker per core
//! scores them, and the calling thread takes the results in input order.

use std::sync::mpsc::sync_channel;

use super::block::BlockOut;
use crate::error::Error;

/// Scores the blocks `next` yields on one worker thread per core and hands them to `write` in
/// input order. A block goes to whichever worker is free (no batch barrier where fast workers
/// wait for slow ones); the reader may run at most `window` blocks ahead of the writer, which
/// bounds memory whatever the input size. Each result's `line_base` is the lines (or rows) of
/// the blocks before it.
pub(super) fn run_ordered<T: Send>(
    mut next: impl FnMut() -> Result<Option<T>, Error> + Send,
    process: impl Fn(&T) -> BlockOut + Sync,
    mut write: impl FnMut(BlockOut) -> Result<(), Error>,
) -> Result<(), Error> {
    type Scored = Result<BlockOut, Error>;
    let workers = rayon::current_num_threads().max(1);
    let window = workers * 3;
    let process = &process;
    std::thread::scope(|s| {
        // Channel capacities equal the window, and at most `window` blocks are out at once, so
        // no send below ever blocks; each thread stops when its peer's end is dropped.
        let (work_tx, work_rx) = sync_channel::<(u64, Result<T, Error>)>(window);
        let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Scored)>(window);
        let (token_tx, token_rx) = sync_channel::<()>(window);
        for _ in 0..window {
            let _ = token_tx.send(());
        }
        s.spawn(move || {
            for seq in 0u64.. {
                if token_rx.recv().is_err() {
                    break;
                }
                let (item, last) = match next() {
                    Ok(Some(c)) => (Ok(c), false),
                    Ok(None) => break,
                    Err(e) => (Err(e), true),
                };
                if work_tx.send((seq, item)).is_err() || last {
                    break;
                }
            }
        });
        for _ in 0..workers {
            let work_rx = std::sync::Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            s.spawn(move || {
                loop {
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((seq, item)) = next else {
                        break;
                    };
                    let scored = item.map(|block| process(&block));
                    if done_tx.send((seq, scored)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0u64;
        let mut line_base = 0u64;
        while let Ok((seq, scored)) = done_rx.recv() {
            pending.insert(seq, scored);
            while let Some(scored) = pending.remove(&next) {
                let mut out = scored?;
                out.line_base = line_base;
                line_base += out.lines;
                write(out)?;
                next += 1;
                // the reader may be done already; a refused token is then no loss
                let _ = token_tx.send(());
            }
        }
        Ok(())
    })
}
