//! Bounds on the connections a server holds: how many at once, and how long each may sit
//! without a request in progress.
//!
//! Every connection has an [`Activity`] that the request path updates (a request starts, a
//! response's body is done) and that the connection's task reads to know when the
//! connection has been idle, or stuck, for too long. The [`Connections`] registry hands out
//! one slot per connection; when they are all taken it makes room by closing the connection
//! that has been idle the longest, so that a client holding many idle connections cannot
//! keep a health check or a new client out. Busy connections are never evicted: the
//! timeouts bound them.

use axum::body::Body;
use bytes::Bytes;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// File descriptors kept out of the connection cap: the database pool (SQLite keeps three
/// files per connection, PostgreSQL one socket), logs, certificates read at start, and
/// outgoing fetches of issuers' keys.
pub(crate) const FD_RESERVE: u64 = 128;

/// How long the accept loop waits for an evicted connection to let go of its slot before it
/// looks for another idle connection to close.
const EVICTION_RETRY: Duration = Duration::from_millis(20);

/// The cap actually applied: the configured one, lowered so that a full server still has
/// [`FD_RESERVE`] descriptors under the process's `RLIMIT_NOFILE` (each connection holds
/// one), since running out of descriptors fails the database and health checks, not only
/// new connections.
pub(crate) fn effective_max_connections(configured: usize) -> usize {
    match nofile_soft_limit() {
        Some(limit) => {
            let allowed = limit.saturating_sub(FD_RESERVE).max(1);
            configured.min(usize::try_from(allowed).unwrap_or(usize::MAX))
        }
        None => configured,
    }
    .max(1)
}

fn nofile_soft_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// The open connections, and the slots that cap them.
pub(crate) struct Connections {
    slots: Arc<Semaphore>,
    max: usize,
    epoch: Instant,
    bounds: Bounds,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
}

/// The timeouts a connection's deadline is made of, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    first_request: u64,
    idle: u64,
    stuck: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection's slot: holding it is holding one of the `max` places; dropping it (when
/// the connection's task ends and its socket is closed) frees the place.
pub(crate) struct Slot {
    connections: Arc<Connections>,
    id: u64,
    pub activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.open.lock().unwrap().remove(&self.id);
    }
}

impl Connections {
    pub fn new(max: usize, limits: &crate::config::Limits) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
            epoch: Instant::now(),
            bounds: Bounds {
                first_request: millis(limits.first_request_timeout),
                idle: millis(limits.idle_timeout),
                stuck: millis(limits.request_timeout).saturating_add(millis(limits.send_timeout)),
            },
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection just accepted, closing the longest-idle connection to make
    /// one when all are taken. Returns only when the slot is really free, so that at most
    /// one connection (the one waiting here) is open beyond the cap.
    pub async fn slot(self: &Arc<Self>) -> Slot {
        loop {
            if let Ok(permit) = self.slots.clone().try_acquire_owned() {
                return self.register(permit);
            }
            self.evict_longest_idle();
            tokio::select! {
                permit = self.slots.clone().acquire_owned() => {
                    return self.register(permit.expect("the semaphore is never closed"));
                }
                _ = tokio::time::sleep(EVICTION_RETRY) => {}
            }
        }
    }

    fn register(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            epoch: self.epoch,
            bounds: self.bounds,
            wake_at: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            since: AtomicU64::new(0),
            served: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            changed: Notify::new(),
            evict: Notify::new(),
        });
        activity.touch();
        self.open.lock().unwrap().insert(id, activity.clone());
        Slot {
            connections: self.clone(),
            id,
            activity,
            _permit: permit,
        }
    }

    /// Asks the connection idle for the longest (no request in progress; still in its
    /// handshake counts) to close now, if there is one.
    pub fn evict_longest_idle(&self) {
        let open = self.open.lock().unwrap();
        let victim = open
            .values()
            .filter(|a| {
                a.in_flight.load(Ordering::Acquire) == 0 && !a.evicted.load(Ordering::Acquire)
            })
            .min_by_key(|a| a.since.load(Ordering::Acquire));
        if let Some(activity) = victim {
            activity.evicted.store(true, Ordering::Release);
            activity.evict.notify_one();
        }
    }

    /// Resolves when every slot is free again: every connection's task has ended.
    pub async fn drained(&self) {
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        let _all = self.slots.acquire_many(all).await;
    }
}

/// What a connection is doing, as far as its bounds are concerned.
pub(crate) struct Activity {
    epoch: Instant,
    bounds: Bounds,
    /// When the connection's task will next look at its deadline (milliseconds after
    /// `epoch`). A change of state wakes the task only when it makes the deadline earlier
    /// than that: most changes (a request starting or ending on a busy connection) move it
    /// later, and the task finds out when it wakes, so requests do not pay for a wake-up.
    wake_at: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds after `epoch` of the last change: accepted, handshake done, a request
    /// started or ended.
    since: AtomicU64,
    /// Whether any request has started, which decides between the first-request and the
    /// idle timeout.
    served: AtomicBool,
    evicted: AtomicBool,
    /// Signalled when a change of state made the deadline earlier than `wake_at`.
    pub changed: Notify,
    /// Signalled when the registry needs this connection's slot.
    pub evict: Notify,
}

/// What a connection's task should do at its deadline.
pub(crate) enum Due {
    /// No request in progress for the idle (or first-request) timeout: close gracefully.
    Idle,
    /// Requests in progress, but none started or ended for longer than any request and its
    /// response may take: the peer stopped reading, drop the connection.
    Stuck,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records progress (the handshake finished, a request started or ended).
    pub fn touch(&self) {
        self.since.store(self.now_ms(), Ordering::SeqCst);
    }

    /// When the connection's current state runs out (milliseconds after `epoch`), and what
    /// is due then.
    fn deadline_ms(&self) -> (u64, Due) {
        let since = self.since.load(Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let timeout = if self.served.load(Ordering::SeqCst) {
                self.bounds.idle
            } else {
                self.bounds.first_request
            };
            (since.saturating_add(timeout), Due::Idle)
        } else {
            (since.saturating_add(self.bounds.stuck), Due::Stuck)
        }
    }

    /// When the connection's current state runs out, and what is due then.
    pub fn deadline(&self) -> (Instant, Due) {
        let (at, due) = self.deadline_ms();
        (self.epoch + Duration::from_millis(at), due)
    }

    /// The deadline the task sleeps until, recorded so that changes of state know whether
    /// to wake it. A change made while this runs is either seen by the second look or sees
    /// the recorded time (both sides use sequentially consistent accesses).
    pub fn schedule(&self) -> (Instant, Due) {
        loop {
            let (at, due) = self.deadline_ms();
            self.wake_at.store(at, Ordering::SeqCst);
            if self.deadline_ms().0 >= at {
                return (self.epoch + Duration::from_millis(at), due);
            }
        }
    }

    /// Wakes the task if the current deadline is earlier than when it will look.
    fn nudge(&self) {
        if self.deadline_ms().0 < self.wake_at.load(Ordering::SeqCst) {
            self.changed.notify_one();
        }
    }

    /// Whether to close now that the registry asked to: not if a request started since it
    /// chose this connection as idle, which then stays a candidate for later.
    pub fn accept_eviction(&self) -> bool {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            return true;
        }
        self.evicted.store(false, Ordering::Release);
        false
    }

    /// Marks a request as started; the returned guard ends it when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.served.store(true, Ordering::SeqCst);
        self.touch();
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.nudge();
        }
        InFlight(self.clone())
    }
}

/// One request in progress on a connection, until its response's body is done (or the
/// request is abandoned).
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.nudge();
        }
    }
}

/// A response body that keeps its request counted as in progress until hyper has taken all
/// of it (or dropped it), since that, not the handler's return, is when the connection
/// becomes idle.
pub(crate) struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl Tracked {
    pub fn wrap(inner: Body, in_flight: InFlight) -> Body {
        Body::new(Self {
            inner,
            _in_flight: in_flight,
        })
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
