//! Logs of the long-running commands (`wid up`, `wid webhook`, `wid proxy`). A request
//! formats its line and appends it to one shared buffer under a short lock; a thread of
//! their own writes the buffer out every [`INTERVAL`], or as soon as it holds
//! [`WRITE_AT`]. So a request never pays for a system call or for waking another thread,
//! which a line-per-write logger costs on every request. Lines keep their order and none
//! is dropped: when the sink cannot keep up, loggers wait for it.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a line may wait in the buffer: short enough to read logs as they happen.
const INTERVAL: Duration = Duration::from_millis(20);
/// A buffer this full is written out at once, not at the next interval.
const WRITE_AT: usize = 64 * 1024;
/// A buffer this full means the sink is not keeping up: the logger writes it out itself.
const WAIT_AT: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr at `WID_LOG`'s levels (default `info`). Keep the guard until exit: dropping
/// it writes out what is still buffered.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(format: LogFormat) -> Guard {
    init_at(format, None)
}

/// azure-workload-identity's `--log-level` values, in order of increasing verbosity: unset
/// (empty), `info`, `debug`, `trace`, `all`. The webhook hands its own to the proxy sidecar.
pub fn upstream_level(level: &str) -> anyhow::Result<Option<&'static str>> {
    Ok(match level {
        "" => None,
        "info" => Some("info"),
        "debug" => Some("debug"),
        "trace" | "all" => Some("trace"),
        other => {
            anyhow::bail!("invalid --log-level {other:?}: one of info, debug, trace, all, or empty")
        }
    })
}

/// As [`init`], at `level` when one is given (an [`upstream_level`]), else at `WID_LOG`'s.
#[must_use = "dropping the guard stops the log writer"]
pub fn init_at(format: LogFormat, level: Option<&str>) -> Guard {
    let filter = match level {
        Some(level) => tracing_subscriber::EnvFilter::new(level),
        None => tracing_subscriber::EnvFilter::try_from_env("WID_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let (writer, guard) = batched(std::io::stderr());
    // Colours only for a person at a terminal; log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Taken while the buffer's lock is still held, so batches reach it in their order.
    sink: Mutex<Box<dyn Write + Send>>,
}

struct State {
    buffer: Vec<u8>,
    stopping: bool,
}

/// A logger that panicked mid-append leaves at worst a partial line: keep logging.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `MakeWriter` side: every clone appends to the same buffer.
#[derive(Clone)]
pub struct Writer(Arc<Shared>);

pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer that batches into `sink`, and the guard that owns its writing thread.
fn batched(sink: impl Write + Send + 'static) -> (Writer, Guard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buffer: Vec::with_capacity(WRITE_AT),
            stopping: false,
        }),
        wake: Condvar::new(),
        sink: Mutex::new(Box::new(sink)),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("wid-log".to_owned())
            .spawn(move || write_out(&shared))
            .expect("starting the log writer thread")
    };
    (
        Writer(shared.clone()),
        Guard {
            shared,
            thread: Some(thread),
        },
    )
}

/// The writer thread: swap the buffer for an empty one and write it once the buffer's lock
/// is released, so loggers never wait for the sink unless it falls [`WAIT_AT`] behind.
fn write_out(shared: &Shared) {
    let mut batch = Vec::with_capacity(WRITE_AT);
    loop {
        let mut state = lock(&shared.state);
        if !state.stopping && state.buffer.len() < WRITE_AT {
            state = shared
                .wake
                .wait_timeout(state, INTERVAL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let stopping = state.stopping;
        if !state.buffer.is_empty() {
            std::mem::swap(&mut state.buffer, &mut batch);
            let mut sink = lock(&shared.sink);
            drop(state);
            // A log that cannot be written has nowhere to report the failure to.
            let _ = sink.write_all(&batch).and_then(|()| sink.flush());
            batch.clear();
        }
        if stopping {
            return;
        }
    }
}

/// Writes out what is buffered, then `line`, with the buffer's lock held: the path of a
/// logger when the writer thread is behind or gone.
fn write_through(shared: &Shared, state: &mut State, line: &[u8]) -> std::io::Result<()> {
    let mut sink = lock(&shared.sink);
    sink.write_all(&state.buffer)?;
    state.buffer.clear();
    sink.write_all(line)?;
    sink.flush()
}

impl Write for &Writer {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut state = lock(&self.0.state);
        if state.buffer.len() >= WAIT_AT || state.stopping {
            write_through(&self.0, &mut state, line)?;
            return Ok(line.len());
        }
        state.buffer.extend_from_slice(line);
        if state.buffer.len() >= WRITE_AT {
            self.0.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Writer {
    type Writer = &'a Writer;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.shared.state).stopping = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let mut state = lock(&self.shared.state);
        let _ = write_through(&self.shared, &mut state, b"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_log_levels_and_nothing_else() {
        for (level, filter) in [
            ("", None),
            ("info", Some("info")),
            ("debug", Some("debug")),
            ("trace", Some("trace")),
            ("all", Some("trace")),
        ] {
            assert_eq!(upstream_level(level).unwrap(), filter, "{level:?}");
        }
        for bad in ["warning", "INFO", "verbose"] {
            let e = upstream_level(bad).unwrap_err().to_string();
            assert!(e.contains("invalid --log-level"), "{e}");
        }
    }
    use std::time::Instant;

    /// A sink the test can read while the writer holds it, closed until the test opens it,
    /// and that notes whether a thread other than the writer thread wrote to it.
    #[derive(Clone, Default)]
    struct Collected {
        bytes: Arc<Mutex<Vec<u8>>>,
        closed: Arc<(Mutex<bool>, Condvar)>,
        written_by_a_logger: Arc<std::sync::atomic::AtomicBool>,
        /// The writer thread is waiting in a closed sink.
        writer_stuck: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Collected {
        fn closed() -> Self {
            let sink = Self::default();
            *sink.closed.0.lock().unwrap() = true;
            sink
        }

        fn open(&self) {
            *self.closed.0.lock().unwrap() = false;
            self.closed.1.notify_all();
        }
    }

    impl Write for Collected {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let (closed, opened) = &*self.closed;
            let writer = std::thread::current().name() == Some("wid-log");
            if writer && *closed.lock().unwrap() {
                self.writer_stuck
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            drop(
                opened
                    .wait_while(closed.lock().unwrap(), |closed| *closed)
                    .unwrap(),
            );
            if !writer {
                self.written_by_a_logger
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            self.bytes.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_in_order_even_when_the_sink_falls_behind() {
        let sink = Collected::closed();
        let (writer, guard) = batched(sink.clone());
        // The writer thread takes a first line and is stuck in the closed sink before the
        // loggers start: whatever they log (more than WAIT_AT) then waits in the buffer.
        (&writer).write_all(b"thread 0 line first\n").unwrap();
        while !sink.writer_stuck.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let logged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (writer, logged) = (writer.clone(), logged.clone());
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        logged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        (&writer)
                            .write_all(
                                format!("thread {t} line {i:05} {}\n", "x".repeat(40)).as_bytes(),
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        // The writer thread is stuck in the closed sink; the loggers fill the buffer past
        // WAIT_AT, and the next one to log must then wait to write through. Open the sink
        // once logging has stalled (or, if nothing ever waits, finished).
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = logged.load(std::sync::atomic::Ordering::Relaxed);
            if now == last || now == 80_000 {
                break;
            }
            last = now;
        }
        sink.open();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        assert!(
            sink.written_by_a_logger
                .load(std::sync::atomic::Ordering::Relaxed),
            "no logger wrote through while the sink was behind"
        );
        let text = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        let text = text
            .strip_prefix("thread 0 line first\n")
            .expect("the first line first");
        let mut next = [0usize; 4];
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (t, i): (usize, usize) = (fields[1].parse().unwrap(), fields[3].parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines out of order or missing");
            next[t] += 1;
        }
        assert_eq!(next, [20_000; 4]);
    }

    #[test]
    fn a_single_line_is_written_within_the_interval_without_a_flush() {
        let sink = Collected::default();
        let (writer, _guard) = batched(sink.clone());
        (&writer).write_all(b"one line\n").unwrap();
        let deadline = Instant::now() + INTERVAL * 50;
        while sink.bytes.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the line was never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.bytes.lock().unwrap().as_slice(), b"one line\n");
    }
}
