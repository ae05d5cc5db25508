//! The sans-I/O sync session, [`SyncSession`]; its rules are in the crate
//! docs (src/lib.rs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::{ServerClock, SyncReport};
use crate::error::{Error, Result};
use crate::policy::SyncReason;
use crate::sync::{Burst, Outcome, Planned, Step};
use crate::transport::{HttpRequest, HttpResponse, TransportError};

/// A session that joined another caller's burst asks to be woken this
/// often to look whether it is over.
pub(crate) const JOIN_POLL_MS: i64 = 50;

/// A boot time more than this ahead of the clock's own boot clock is
/// refused: it cannot come from that clock.
pub(crate) const BOOT_AHEAD_TOLERANCE_MS: i64 = 1_000;

/// A request is given up this long after its `timeout_ms` ran out, when no
/// reply or failure was handed back.
pub(crate) const REPLY_GRACE_MS: i64 = 1_000;

/// Longest a blocking caller waits on another caller's burst before it
/// looks again whether that burst was abandoned (real time).
const JOIN_RECHECK: Duration = Duration::from_millis(250);

/// Request ids are unique in the process, so that a reply handed to the
/// wrong session is refused rather than taken.
static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// How long a burst may hold the clock, from its start: the longest a
/// driven burst takes (`policy.max_sync_ms`, or one request and one probe
/// wait if that is longer) plus one more request timeout of slack for a
/// slow caller. After that, a new sync takes over.
pub(crate) fn session_deadline_ms(config: &crate::ClockConfig) -> i64 {
    let request_ms = i64::try_from(config.request_timeout_ms).unwrap_or(i64::MAX / 4);
    config
        .policy
        .max_sync_ms
        .max(request_ms.saturating_add(1_000))
        .saturating_add(request_ms)
        .saturating_add(REPLY_GRACE_MS)
}

/// What a [`SyncSession`] wants done next.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum SyncAction {
    /// Send `request` now (a GET; do not follow redirects), then hand back
    /// the reply with `receive_response`, or the failure with
    /// `receive_failure`, quoting `request_id`.
    Send {
        /// Quote it when handing back the reply.
        request_id: u64,
        /// What to send; its `timeout_ms` bounds the whole exchange.
        request: HttpRequest,
    },
    /// Nothing to do before the boot clock reads `until_boot_ms`; then call
    /// `next_action` again.
    Wait {
        /// Boot-clock time to wait for, ms.
        until_boot_ms: i64,
    },
    /// The sync is over and succeeded.
    Done {
        /// What it did; the estimate after it.
        report: SyncReport,
    },
}

/// The result of a burst, for the callers sharing it.
#[derive(Debug, Clone)]
pub(crate) enum FlightState {
    /// Its leader is still at it.
    Running,
    /// Over, with this result.
    Finished(Result<SyncReport>),
    /// Its leader went away (dropped, panicked, or was taken over): no
    /// result; whoever needs one starts a new burst.
    Abandoned,
}

/// The one burst in flight on a clock, shared by everyone who wants its
/// result.
#[derive(Debug)]
pub(crate) struct Flight {
    state: Mutex<FlightState>,
    changed: Condvar,
    /// After this boot time a still running burst counts as abandoned.
    deadline_boot_ms: i64,
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, FlightState> {
        // A panic elsewhere never leaves the state half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn state(&self) -> FlightState {
        self.lock().clone()
    }

    /// Ends a running flight (a finished one stays finished).
    fn publish(&self, state: FlightState) {
        let mut s = self.lock();
        if matches!(*s, FlightState::Running) {
            *s = state;
            self.changed.notify_all();
        }
    }

    /// Blocks until the flight is over, or until the clock's boot time
    /// passes its deadline (then it counts as abandoned).
    pub(crate) fn wait_while_running(&self, clock: &ServerClock) -> FlightState {
        let mut s = self.lock();
        loop {
            if !matches!(*s, FlightState::Running) {
                return s.clone();
            }
            if clock.time.boot_ms() >= self.deadline_boot_ms {
                return FlightState::Abandoned;
            }
            s = self
                .changed
                .wait_timeout(s, JOIN_RECHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The request a session handed out and waits for.
struct Outstanding {
    id: u64,
    step: Step,
    request: HttpRequest,
    handed_out_boot_ms: i64,
}

/// A burst this session runs itself.
struct Leading {
    burst: Burst,
    planned: Option<Planned>,
    outstanding: Option<Outstanding>,
}

enum Role {
    /// Waits for another caller's burst.
    Joined,
    /// Runs the burst.
    Leading(Box<Leading>),
    /// Over.
    Finished(Result<SyncReport>),
}

/// The session's state machine; every method takes the clock. Shared by
/// [`SyncSession`] and the blocking `sync()`.
pub(crate) struct Session {
    flight: Arc<Flight>,
    reason: Option<SyncReason>,
    role: Role,
    /// The latest boot time the caller gave.
    latest_boot_ms: i64,
}

impl Session {
    /// Leads a new burst, or joins the one in flight.
    pub(crate) fn start(
        clock: &ServerClock,
        now_boot_ms: i64,
        reason: Option<SyncReason>,
    ) -> Result<Session> {
        check_not_ahead(clock, now_boot_ms, "now_boot_ms")?;
        let (flight, lead) = claim(clock, now_boot_ms)?;
        let role = if lead {
            match Burst::start(clock, now_boot_ms, reason) {
                Ok(burst) => Role::Leading(Box::new(Leading {
                    burst,
                    planned: None,
                    outstanding: None,
                })),
                Err(e) => {
                    flight.publish(FlightState::Finished(Err(e.clone())));
                    return Err(e);
                }
            }
        } else {
            Role::Joined
        };
        Ok(Session {
            flight,
            reason,
            role,
            latest_boot_ms: now_boot_ms,
        })
    }

    /// The burst this session joined, if it joined one.
    pub(crate) fn joined_flight(&self) -> Option<Arc<Flight>> {
        matches!(self.role, Role::Joined).then(|| self.flight.clone())
    }

    /// Refuses a boot time earlier than one already given, or ahead of the
    /// clock.
    fn check_time(&self, clock: &ServerClock, boot_ms: i64, name: &str) -> Result<()> {
        if boot_ms < self.latest_boot_ms {
            return Err(Error::TimeOutOfRange(format!(
                "{name} {boot_ms} ms is earlier than {} ms, a boot time this sync session \
                 was already given: pass readings of one boot clock, which never goes back",
                self.latest_boot_ms
            )));
        }
        check_not_ahead(clock, boot_ms, name)
    }

    pub(crate) fn next_action(
        &mut self,
        clock: &ServerClock,
        now_boot_ms: i64,
    ) -> Result<SyncAction> {
        self.next_action_after_wait(clock, now_boot_ms, i64::MIN)
    }

    /// As `next_action`, for a caller that has just waited for a `Wait`
    /// until `waited_until_boot_ms`: a request planned for then goes out
    /// even if the time source did not move meanwhile (a test clock that
    /// only the transport advances, under real sleeps), as `sync()` always
    /// sent after its sleep.
    pub(crate) fn next_action_after_wait(
        &mut self,
        clock: &ServerClock,
        now_boot_ms: i64,
        waited_until_boot_ms: i64,
    ) -> Result<SyncAction> {
        self.check_time(clock, now_boot_ms, "now_boot_ms")?;
        self.latest_boot_ms = now_boot_ms;
        loop {
            match &mut self.role {
                Role::Finished(result) => {
                    return result.clone().map(|report| SyncAction::Done { report })
                }
                Role::Joined => match self.flight.state() {
                    FlightState::Finished(result) => self.role = Role::Finished(result),
                    FlightState::Running if now_boot_ms < self.flight.deadline_boot_ms => {
                        return Ok(SyncAction::Wait {
                            until_boot_ms: now_boot_ms
                                .saturating_add(JOIN_POLL_MS)
                                .min(self.flight.deadline_boot_ms),
                        })
                    }
                    // The leader went away: lead (or join whoever was first).
                    _ => {
                        let reason = self.reason;
                        *self = Session::start(clock, now_boot_ms, reason)?;
                    }
                },
                Role::Leading(leading) => {
                    if matches!(self.flight.state(), FlightState::Abandoned) {
                        self.role = Role::Finished(Err(taken_over(clock)));
                        continue;
                    }
                    if let Some(out) = &leading.outstanding {
                        let timeout_ms =
                            i64::try_from(out.request.timeout_ms).unwrap_or(i64::MAX / 4);
                        let give_up_at = out
                            .handed_out_boot_ms
                            .saturating_add(timeout_ms)
                            .saturating_add(REPLY_GRACE_MS);
                        if now_boot_ms < give_up_at {
                            return Ok(SyncAction::Wait {
                                until_boot_ms: give_up_at,
                            });
                        }
                        let sent = out.handed_out_boot_ms;
                        let failure = TransportError::Timeout {
                            reason: format!(
                                "no reply to request {} was handed back to the sync session",
                                out.id
                            ),
                        };
                        self.take_reply(clock, sent, now_boot_ms, Err(failure));
                        continue;
                    }
                    if leading.planned.is_none() {
                        match leading.burst.plan(clock, now_boot_ms) {
                            Some(p) => leading.planned = Some(p),
                            None => {
                                self.finish(clock, now_boot_ms);
                                continue;
                            }
                        }
                    }
                    let send_at = leading.planned.as_ref().map_or(0, |p| p.send_at_boot_ms);
                    if now_boot_ms.max(waited_until_boot_ms) < send_at {
                        return Ok(SyncAction::Wait {
                            until_boot_ms: send_at,
                        });
                    }
                    let Some(planned) = leading.planned.take() else {
                        continue;
                    };
                    let id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
                    leading.outstanding = Some(Outstanding {
                        id,
                        step: planned.step,
                        request: planned.request.clone(),
                        handed_out_boot_ms: now_boot_ms,
                    });
                    return Ok(SyncAction::Send {
                        request_id: id,
                        request: planned.request,
                    });
                }
            }
        }
    }

    /// The reply (or failure) to request `request_id`.
    pub(crate) fn receive(
        &mut self,
        clock: &ServerClock,
        request_id: u64,
        sent_boot_ms: i64,
        received_boot_ms: i64,
        reply: std::result::Result<HttpResponse, TransportError>,
    ) -> Result<()> {
        let out = match &self.role {
            Role::Leading(l) => l.outstanding.as_ref().filter(|o| o.id == request_id),
            _ => None,
        };
        let Some(out) = out else {
            return Err(Error::InvalidArgument(format!(
                "request {request_id} is not waiting for a reply in this sync session ({}); \
                 hand back each reply once, to the session that gave out its request",
                match &self.role {
                    Role::Leading(l) => match &l.outstanding {
                        Some(o) => format!("it waits for request {}", o.id),
                        None => "it waits for no request".into(),
                    },
                    Role::Joined => "it waits for another caller's sync".into(),
                    Role::Finished(_) => "it is over".into(),
                }
            )));
        };
        if sent_boot_ms < out.handed_out_boot_ms {
            return Err(Error::TimeOutOfRange(format!(
                "sent_boot_ms {sent_boot_ms} ms is before request {request_id} was handed out \
                 (boot time {} ms)",
                out.handed_out_boot_ms
            )));
        }
        if received_boot_ms < sent_boot_ms {
            return Err(Error::TimeOutOfRange(format!(
                "received_boot_ms {received_boot_ms} ms is before sent_boot_ms {sent_boot_ms} ms"
            )));
        }
        self.check_time(clock, received_boot_ms, "received_boot_ms")?;
        self.latest_boot_ms = received_boot_ms;
        if matches!(self.flight.state(), FlightState::Abandoned) {
            // Another sync took over; this reply changes nothing.
            self.role = Role::Finished(Err(taken_over(clock)));
            return Ok(());
        }
        self.take_reply(clock, sent_boot_ms, received_boot_ms, reply);
        Ok(())
    }

    /// Gives the outstanding request's reply to the burst; ends the burst
    /// if that was enough, or fatal.
    fn take_reply(
        &mut self,
        clock: &ServerClock,
        sent_boot_ms: i64,
        received_boot_ms: i64,
        reply: std::result::Result<HttpResponse, TransportError>,
    ) {
        let Role::Leading(leading) = &mut self.role else {
            return;
        };
        let Some(out) = leading.outstanding.take() else {
            return;
        };
        let outcome = leading.burst.reply(
            clock,
            out.step,
            &out.request,
            reply,
            sent_boot_ms,
            received_boot_ms,
        );
        if outcome == Outcome::Stop || leading.burst.good_enough(clock) {
            self.finish(clock, received_boot_ms);
        }
    }

    /// Ends the burst: commits, updates the policy, tells the sharers.
    fn finish(&mut self, clock: &ServerClock, now_boot_ms: i64) {
        let role = std::mem::replace(&mut self.role, Role::Joined);
        let result = match role {
            Role::Leading(leading) => leading.burst.finish(clock, now_boot_ms),
            Role::Finished(result) => result,
            Role::Joined => Err(Error::Internal(
                "a joined sync session cannot finish".into(),
            )),
        };
        self.flight.publish(FlightState::Finished(result.clone()));
        self.role = Role::Finished(result);
    }
}

impl Drop for Session {
    /// A session dropped while it runs its burst abandons it, so that the
    /// callers waiting for it and the next sync do not wait for nothing.
    fn drop(&mut self) {
        if matches!(self.role, Role::Leading(_)) {
            self.flight.publish(FlightState::Abandoned);
        }
    }
}

/// The error of a session whose burst another sync took over.
fn taken_over(clock: &ServerClock) -> Error {
    Error::Timeout {
        what: "this sync session was not driven to its end in time, and another sync took \
               over; start a new one"
            .into(),
        timeout_ms: session_deadline_ms(&clock.config).max(0) as u64,
    }
}

fn check_not_ahead(clock: &ServerClock, boot_ms: i64, name: &str) -> Result<()> {
    let clock_ms = clock.time.boot_ms();
    if boot_ms > clock_ms.saturating_add(BOOT_AHEAD_TOLERANCE_MS) {
        return Err(Error::TimeOutOfRange(format!(
            "{name} {boot_ms} ms is ahead of the clock's boot clock ({clock_ms} ms): pass \
             readings of ServerClock::boot_ms() (or of the clock's own TimeSource), not \
             wall-clock times"
        )));
    }
    Ok(())
}

/// The flight in progress to join (`false`), or a new one to lead (`true`).
/// A running flight past its deadline is declared abandoned and replaced.
fn claim(clock: &ServerClock, now_boot_ms: i64) -> Result<(Arc<Flight>, bool)> {
    let mut slot = clock.in_flight.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = &*slot {
        if matches!(f.state(), FlightState::Running) {
            if now_boot_ms < f.deadline_boot_ms {
                return Ok((f.clone(), false));
            }
            f.publish(FlightState::Abandoned);
        }
    }
    let f = Arc::new(Flight {
        state: Mutex::new(FlightState::Running),
        changed: Condvar::new(),
        deadline_boot_ms: now_boot_ms.saturating_add(session_deadline_ms(&clock.config)),
    });
    *slot = Some(f.clone());
    Ok((f, true))
}

/// A sync driven by the caller (see [the crate docs](crate#the-sync-session)).
/// Obtained from [`ServerClock::start_sync`]; `Send + Sync`, but the calls of
/// one session belong in one sequence (next action, reply, next action, ...).
/// Dropping it before it is done abandons the sync.
#[cfg_attr(feature = "uniffi", derive(uniffi::Object))]
pub struct SyncSession {
    clock: Arc<ServerClock>,
    session: Mutex<Session>,
}

impl std::fmt::Debug for SyncSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSession").finish_non_exhaustive()
    }
}

impl SyncSession {
    fn lock(&self) -> MutexGuard<'_, Session> {
        // Every step leaves the session consistent before anything that can
        // panic; carry on after a caught panic rather than fail every call.
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl SyncSession {
    /// What to do next, at boot time `now_boot_ms`: send a request, wait,
    /// or done. A failed sync returns its error here (every time it is
    /// asked). Fails with `TimeOutOfRange` for a boot time before one
    /// already given or ahead of the clock.
    pub fn next_action(&self, now_boot_ms: i64) -> Result<SyncAction> {
        self.lock().next_action(&self.clock, now_boot_ms)
    }

    /// The reply to request `request_id` (any HTTP status), sent at boot time
    /// `sent_boot_ms` and received at `received_boot_ms`. Fails with
    /// `InvalidArgument` when that request is not waiting for a reply here,
    /// `TimeOutOfRange` for impossible times; the session is then unchanged.
    pub fn receive_response(
        &self,
        request_id: u64,
        sent_boot_ms: i64,
        received_boot_ms: i64,
        response: HttpResponse,
    ) -> Result<()> {
        self.lock().receive(
            &self.clock,
            request_id,
            sent_boot_ms,
            received_boot_ms,
            Ok(response),
        )
    }

    /// Request `request_id` failed without a reply (network, timeout,
    /// unreadable reply), sent at `sent_boot_ms`, given up at
    /// `received_boot_ms`. Errors as `receive_response`.
    pub fn receive_failure(
        &self,
        request_id: u64,
        sent_boot_ms: i64,
        received_boot_ms: i64,
        error: TransportError,
    ) -> Result<()> {
        self.lock().receive(
            &self.clock,
            request_id,
            sent_boot_ms,
            received_boot_ms,
            Err(error),
        )
    }
}

impl ServerClock {
    /// Why a sync is due at `now_boot_ms` if it is also allowed then
    /// (minimum interval, backoff, 429), else `None`.
    pub(crate) fn sync_due(&self, now_boot_ms: i64) -> Result<Option<SyncReason>> {
        let Some(reason) = self.sync_reason() else {
            return Ok(None);
        };
        let earliest = self
            .policy_state()?
            .earliest_sync_boot_ms(&self.config.policy);
        Ok((now_boot_ms >= earliest).then_some(reason))
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl ServerClock {
    /// Starts a sync that the caller drives with its own HTTP client (see
    /// [`SyncSession`]), at boot time `now_boot_ms` (`boot_ms()`). Joins the
    /// burst in flight, if any. Fails as `sync()` does before its first
    /// request: `InvalidConfig` without a homeserver URL, `RateLimited`
    /// while a 429's `Retry-After` lasts. Needs no transport.
    pub fn start_sync(self: Arc<Self>, now_boot_ms: i64) -> Result<Arc<SyncSession>> {
        let session = Session::start(&self, now_boot_ms, None)?;
        Ok(Arc::new(SyncSession {
            clock: self,
            session: Mutex::new(session),
        }))
    }

    /// As [`start_sync`](Self::start_sync), only if a sync is due and
    /// allowed at `now_boot_ms` (as `sync_if_needed`); `None` otherwise.
    pub fn start_sync_if_needed(
        self: Arc<Self>,
        now_boot_ms: i64,
    ) -> Result<Option<Arc<SyncSession>>> {
        let Some(reason) = self.sync_due(now_boot_ms)? else {
            return Ok(None);
        };
        let session = Session::start(&self, now_boot_ms, Some(reason))?;
        Ok(Some(Arc::new(SyncSession {
            clock: self,
            session: Mutex::new(session),
        })))
    }
}
