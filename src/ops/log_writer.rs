//! The log's writer: request threads append each formatted line to a shared buffer and a thread
//! of its own writes the buffer out, so no request waits on a `write` to stderr (issue 16: the
//! access log's synchronous writes were ~7 % of a small GET's CPU, one syscall per line).
//!
//! Nothing is lost: the buffer is bounded by [`MAX_PENDING`], and a line that would overflow it
//! waits until the writer has drained it (the old synchronous cost, only under a log flood);
//! [`LogFlushGuard`] writes out what is pending when it is dropped, after the server stopped.
//! Lines stay in the order they were appended. The first line after a quiet spell wakes the
//! writer thread, which waits [`BATCH_WINDOW`] for more before it writes them all with one
//! `write`: under load one wake-up and one `write` serve hundreds of lines (a first version that
//! wrote each line as soon as it came cost a futex wake and a context switch per line, as much
//! as the `write` it saved); a quiet proxy's line is on stderr within the window.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// The most bytes of log lines held before a writer waits for the thread to drain them.
pub const MAX_PENDING: usize = 1 << 20;

/// How long the writer thread collects lines after the first one before writing them.
pub const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

/// What the request threads and the writer thread share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive for an idle writer, or when it should stop.
    wake_writer: Condvar,
    /// Signalled when the writer has taken the pending lines (room again below `MAX_PENDING`).
    drained: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// The writer thread is waiting for lines (so a new line must wake it).
    writer_idle: bool,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only bytes in a Vec: still fine to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        while !state.pending.is_empty() && state.pending.len() + line.len() > MAX_PENDING {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.pending.extend_from_slice(line);
        if state.writer_idle {
            state.writer_idle = false;
            self.wake_writer.notify_one();
        }
    }
}

/// The `tracing_subscriber` writer: a handle to the shared buffer. Each `write` is appended
/// whole, never interleaved with another thread's; tracing's formatter writes each event (one
/// line) with a single `write_all`.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Stops the writer thread once everything appended before the drop is written.
pub struct LogFlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for LogFlushGuard {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.stopping = true;
            self.shared.wake_writer.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A writer whose lines go to `out` (stderr for the server) from a thread named `log-writer`.
pub fn spawn_log_writer<W: Write + Send + 'static>(
    out: W,
) -> std::io::Result<(LogWriter, LogFlushGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        wake_writer: Condvar::new(),
        drained: Condvar::new(),
    });
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_until_stopped(&for_thread, out))?;
    Ok((
        LogWriter {
            shared: shared.clone(),
        },
        LogFlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: take all pending lines, write them with one `write_all`, repeat; after
/// `stopping`, leave once nothing is pending.
fn write_until_stopped<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::new();
    loop {
        {
            let mut state = shared.lock();
            while state.pending.is_empty() && !state.stopping {
                state.writer_idle = true;
                state = shared
                    .wake_writer
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.writer_idle = false;
            if state.pending.is_empty() {
                return; // stopping, and everything is written
            }
            if !state.stopping && state.pending.len() < MAX_PENDING / 2 {
                // Let more lines join this write (unless a flood already fills the buffer).
                drop(state);
                std::thread::sleep(BATCH_WINDOW);
                state = shared.lock();
            }
            // The two buffers swap roles: no allocation once both have grown.
            std::mem::swap(&mut state.pending, &mut batch);
            shared.drained.notify_all();
        }
        // A failed write (stderr closed) drops these lines: there is nowhere else to put them.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_of_every_thread_is_written_in_each_threads_order_by_the_time_the_guard_drops() {
        let sink = Sink::default();
        let (writer, guard) = spawn_log_writer(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    // Lines larger in all than MAX_PENDING: writers must wait, never drop.
                    for i in 0..20_000 {
                        // One write per line, as tracing's formatter writes each event.
                        let line = format!("thread {t} line {i:06} {}\n", "x".repeat(40));
                        w.write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        for t in 0..4 {
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            assert_eq!(lines.len(), 20_000, "thread {t} lost lines");
            assert!(
                lines.windows(2).all(|w| w[0] < w[1]),
                "thread {t} out of order"
            );
        }
    }

    #[test]
    fn a_line_reaches_the_output_without_waiting_for_the_guard() {
        let sink = Sink::default();
        let (mut writer, _guard) = spawn_log_writer(sink.clone()).unwrap();
        writer.write_all(b"one line\n").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the idle writer was not woken"
            );
            std::thread::yield_now();
        }
        assert_eq!(sink.0.lock().unwrap().as_slice(), b"one line\n");
    }
}
