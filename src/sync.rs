//! One sync burst, as a state machine that does no I/O, and the blocking
//! `sync()` that drives it over an [`HttpTransport`].
//!
//! The MSC4094 endpoint first; when the server lacks it (404, 405,
//! `M_UNRECOGNIZED`), the `Date` header of the same reply, refined by
//! phase-targeted probes: each probe is timed to reach the server when the
//! predicted server time crosses a whole second, so its `Date` tells on which
//! side of the boundary the truth is and halves the interval (htpdate); then
//! both edges of the result are confirmed, and a `Date` burst whose replies
//! contradict each other beyond one falseticker is refused
//! ([`crate::probe`]). Every reply that carries a valid `Date` header yields
//! a sample, whatever its status; a reply with an `Age` header (any value)
//! came from a cache, and only its `Date` header is used, widened by the age.
//!
//! [`Burst`] holds the burst's state and takes each decision by calling one
//! pure function at one place, with the times it is given:
//!
//! | decision | method | pure function |
//! |---|---|---|
//! | which request next, or stop (budget, `max_sync_ms`) | [`Burst::plan`] | [`Burst::next_step`], [`Burst::within_sync_bound`] |
//! | go on past the budget while there is no majority (endpoint) or one reply contradicts, or the server showed two clocks before (`Date`) | [`Burst::next_step`] | [`burst_has_majority`], [`DateBurst::may_exceed_budget`], [`burst_request_limit`] |
//! | when a `Date` probe leaves, and what for | [`Burst::plan`] | [`DateBurst::next_probe`] |
//! | spacing between requests | [`Burst::send_at`] | [`BURST_MIN_GAP_MS`] |
//! | what a reply is worth | [`Burst::endpoint_reply`], [`Burst::date_reply`] | `Sample::from_*`, [`protocol`] |
//! | the endpoint is missing | [`Burst::endpoint_reply`] | [`protocol::is_endpoint_unsupported`], `PolicyState::mark_endpoint_unsupported` |
//! | enough samples | [`Burst::good_enough`] | [`burst_target_uncertainty_ms`], [`refresh_target_uncertainty_ms`], [`burst_complete`]; `Date`: [`DateBurst::complete`], [`DateBurst::refused`] |
//! | a `Date` burst is refused, what it keeps | [`Burst::finish`] | [`DateBurst::verdict`], [`DateBurst::evidence`] |
//! | what the policy remembers | [`Burst::finish`] | `PolicyState::record_*` |
//!
//! [`crate::session`] hands the burst's requests out to a caller and brings
//! the replies back; [`ServerClock::sync`] is that caller, with a transport
//! and real (or simulated) sleeps.

use crate::clock::{ServerClock, SyncReport};
use crate::error::{Error, Result};
use crate::policy::{
    burst_complete, burst_has_majority, burst_request_limit, burst_target_uncertainty_ms,
    is_refresh, refresh_target_uncertainty_ms, SyncReason, BURST_MIN_GAP_MS,
};
use crate::probe::{DateBurst, DateProbePurpose};
use crate::protocol::{self, HomeserverUrl};
use crate::sample::Sample;
use crate::session::{FlightState, Session, SyncAction};
use crate::transport::{HttpRequest, HttpResponse, HttpTransport, TransportError};

/// What one reply gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Keep going.
    Continue,
    /// Stop the burst (rate limited, server error, network failure).
    Stop,
}

/// The kind of request a burst sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The MSC4094 endpoint.
    Endpoint,
    /// A `Date` probe ([`protocol::DATE_PROBE_PATH`]), sent for this.
    DateProbe(DateProbePurpose),
}

/// The next request of a burst and the earliest boot time to send it.
pub(crate) struct Planned {
    pub(crate) step: Step,
    pub(crate) request: HttpRequest,
    pub(crate) send_at_boot_ms: i64,
}

/// One sync burst in progress. Every method takes the clock (for its
/// configuration, window and policy memory) and the boot times it needs:
/// the burst never reads a clock, sleeps or touches the network.
pub(crate) struct Burst {
    url: HomeserverUrl,
    /// The request to the MSC4094 endpoint (it carries the token).
    token_request: HttpRequest,
    reason: Option<SyncReason>,
    started_boot_ms: i64,
    /// Window before the burst plus what it took, for early-stop decisions.
    window: Vec<Sample>,
    new: Vec<Sample>,
    /// The burst's replies for the `Date` path's decisions.
    date: DateBurst,
    requests: u32,
    endpoint_supported: bool,
    last_error: Option<Error>,
    min_rtt_ms: Option<i64>,
    last_received_boot_ms: Option<i64>,
    /// Largest gap seen between an endpoint reply's body and its own `Date`.
    date_disagreement_ms: Option<i64>,
    /// The sync only refreshes an estimate whose drift is learned: a looser
    /// target ([`refresh_target_uncertainty_ms`]).
    refresh: bool,
}

impl Burst {
    /// Starts a burst at `now_boot_ms`: refuses while a 429's `Retry-After`
    /// lasts (without a request), else records the attempt.
    pub(crate) fn start(
        clock: &ServerClock,
        now_boot_ms: i64,
        reason: Option<SyncReason>,
    ) -> Result<Burst> {
        let config = &clock.config;
        // Parsed once, when the clock was built.
        let url = clock.homeserver.clone().ok_or_else(|| {
            Error::InvalidConfig(
                "no homeserver_url: a sync needs one; set it, or feed samples with \
                 add_sample/observe_event"
                    .into(),
            )
        })?;
        let policy_state = clock.policy_state()?;
        if let Some(retry_at) = policy_state.retry_at_boot_ms {
            if policy_state.rate_limited && now_boot_ms < retry_at {
                return Err(Error::RateLimited {
                    retry_after_ms: (retry_at - now_boot_ms) as u64,
                });
            }
        }
        clock.update_policy(|p| p.record_attempt(now_boot_ms))?;
        let token_request = protocol::server_now_request(
            &url,
            &config.endpoint_path,
            config.access_token.as_deref(),
            config.request_timeout_ms,
        );
        Ok(Burst {
            url,
            token_request,
            reason,
            started_boot_ms: now_boot_ms,
            window: clock.window()?,
            new: Vec::new(),
            date: if policy_state.several_clocks(now_boot_ms) {
                DateBurst::suspect()
            } else {
                DateBurst::new()
            },
            requests: 0,
            endpoint_supported: policy_state.endpoint_supported(now_boot_ms),
            last_error: None,
            min_rtt_ms: None,
            last_received_boot_ms: None,
            date_disagreement_ms: None,
            refresh: is_refresh(reason, &clock.current_drift_status()),
        })
    }

    /// The next request and when to send it, or `None` when the burst is
    /// over (budget spent, or no time left within `max_sync_ms`).
    pub(crate) fn plan(&self, clock: &ServerClock, now_boot_ms: i64) -> Option<Planned> {
        let step = self.next_step(clock)?;
        if !self.within_sync_bound(clock, step, now_boot_ms) {
            return None;
        }
        let (step, send_at_boot_ms) = self.send_at(clock, step, now_boot_ms);
        Some(Planned {
            step,
            request: self.request(clock, step),
            send_at_boot_ms,
        })
    }

    /// Endpoint while the server has it, else `Date` probes; `None` once
    /// the path's request budget is spent (a larger one while the burst's
    /// samples have no majority: [`burst_request_limit`]).
    fn next_step(&self, clock: &ServerClock) -> Option<Step> {
        let policy = &clock.config.policy;
        let (step, budget) = if self.endpoint_supported {
            (Step::Endpoint, policy.max_samples_per_sync)
        } else {
            (
                Step::DateProbe(DateProbePurpose::Narrow),
                policy.date_probe_budget,
            )
        };
        // A `Date` burst has its own rules for disagreement (crate::probe):
        // one reply that contradicts the others must not cost the answer, so
        // it goes on to confirm the rest.
        let drift_ppm = clock.config.drift_ppm;
        let limit = if self.endpoint_supported {
            let majority = burst_has_majority(&self.window, &self.new, drift_ppm);
            burst_request_limit(budget, majority)
        } else {
            burst_request_limit(budget, !self.date.may_exceed_budget(drift_ppm))
        };
        (self.requests < limit).then_some(step)
    }

    /// The whole sync stays within `max_sync_ms`: no request starts that
    /// could end after it (a `Date` probe may first wait up to 1 s). The
    /// first request always goes.
    fn within_sync_bound(&self, clock: &ServerClock, step: Step, now_boot_ms: i64) -> bool {
        let elapsed = now_boot_ms.saturating_sub(self.started_boot_ms);
        let next_ms = (clock.config.request_timeout_ms as i64).saturating_add(match step {
            Step::Endpoint => BURST_MIN_GAP_MS,
            Step::DateProbe(_) => 1_000,
        });
        self.requests == 0 || elapsed.saturating_add(next_ms) <= clock.config.policy.max_sync_ms
    }

    fn request(&self, clock: &ServerClock, step: Step) -> HttpRequest {
        match step {
            Step::Endpoint => self.token_request.clone(),
            Step::DateProbe(_) => {
                protocol::date_probe_request(&self.url, clock.config.request_timeout_ms)
            }
        }
    }

    /// When the request may leave, and (for a `Date` probe) what for: no
    /// request sooner than [`BURST_MIN_GAP_MS`] after the previous reply
    /// arrived; a `Date` probe at the time [`DateBurst::next_probe`] picks
    /// from the burst's own replies (a second boundary to narrow on or to
    /// confirm an edge at; at most 1 s ahead of that earliest time).
    fn send_at(&self, clock: &ServerClock, step: Step, now_boot_ms: i64) -> (Step, i64) {
        let earliest = self.last_received_boot_ms.map_or(now_boot_ms, |last| {
            now_boot_ms.max(last.saturating_add(BURST_MIN_GAP_MS))
        });
        match step {
            Step::Endpoint => (step, earliest),
            Step::DateProbe(_) => {
                let probe = self.date.next_probe(
                    clock.config.drift_ppm,
                    self.min_rtt_ms,
                    self.target_ms(clock),
                    earliest,
                );
                let at = probe
                    .send_at_boot_ms
                    .clamp(earliest, earliest.saturating_add(1_000));
                (Step::DateProbe(probe.purpose), at)
            }
        }
    }

    /// Takes the reply to a request of kind `step` (or the transport's
    /// failure), sent at `sent_boot_ms`, back at `received_boot_ms`.
    pub(crate) fn reply(
        &mut self,
        clock: &ServerClock,
        step: Step,
        request: &HttpRequest,
        reply: std::result::Result<HttpResponse, TransportError>,
        sent_boot_ms: i64,
        received_boot_ms: i64,
    ) -> Outcome {
        self.requests += 1;
        self.last_received_boot_ms = Some(received_boot_ms);
        let response = match reply {
            Ok(r) => r,
            // The one conversion of a transport's failure, which also scrubs
            // the token from it (a foreign transport may echo request details).
            Err(e) => return self.fail(e.into_error(request)),
        };
        let rtt = received_boot_ms.saturating_sub(sent_boot_ms);
        self.min_rtt_ms = Some(self.min_rtt_ms.map_or(rtt, |m| m.min(rtt)));
        match step {
            Step::Endpoint => {
                self.endpoint_reply(clock, request, &response, sent_boot_ms, received_boot_ms)
            }
            Step::DateProbe(purpose) => {
                self.date_reply(request, &response, purpose, sent_boot_ms, received_boot_ms)
            }
        }
    }

    /// The `Date` sample of any reply: `Ok(None)` when it has no `Date`,
    /// an error when the header (or a conflicting duplicate, or `Age`) is bad.
    fn date_sample(response: &HttpResponse, sent: i64, received: i64) -> Result<Option<Sample>> {
        if response.header("date").is_none() {
            return Ok(None);
        }
        protocol::response_date(response)?
            .sample(sent, received)
            .map(Some)
    }

    fn push(&mut self, s: Sample) {
        self.push_for(s, DateProbePurpose::Narrow);
    }

    /// A sample drawn by a `Date` probe sent for `purpose`.
    fn push_for(&mut self, s: Sample, purpose: DateProbePurpose) {
        self.window.push(s);
        self.new.push(s);
        self.date.record(s, purpose);
    }

    fn fail(&mut self, e: Error) -> Outcome {
        self.last_error = Some(e);
        Outcome::Stop
    }

    /// A reply of the MSC4094 endpoint.
    fn endpoint_reply(
        &mut self,
        clock: &ServerClock,
        request: &HttpRequest,
        response: &HttpResponse,
        sent: i64,
        received: i64,
    ) -> Outcome {
        // The Date header is a fallback for whatever the status says.
        let date = Self::date_sample(response, sent, received);
        // A cache answered (any `Age`, 0 included: whole seconds, so up to a
        // second old): the body's time is as old as the cached copy, which
        // only the Date sample accounts for.
        let cached = response.header("age").is_some();
        if response.status == 200 && cached {
            return match date {
                Ok(Some(s)) => {
                    self.push(s);
                    Outcome::Continue
                }
                Ok(None) => self.fail(Error::ProtocolViolation(
                    "a cache answered (Age header) and the reply has no Date header".into(),
                )),
                Err(e) => self.fail(e),
            };
        }
        if response.status == 200 {
            match protocol::parse_server_now_body(&response.body)
                .and_then(|ms| Sample::from_endpoint(sent, received, ms))
            {
                Ok(s) => {
                    if let Ok(Some(d)) = &date {
                        self.note_date_disagreement(&s, d);
                    }
                    self.push(s);
                    return Outcome::Continue;
                }
                Err(e) => {
                    // A broken body: use the Date header, keep asking the
                    // endpoint (it exists), but remember why.
                    self.last_error = Some(e);
                    return match date {
                        Ok(Some(s)) => {
                            self.push(s);
                            Outcome::Continue
                        }
                        _ => Outcome::Stop,
                    };
                }
            }
        }
        if let Ok(Some(s)) = date {
            self.push(s);
        }
        if protocol::is_endpoint_unsupported(response) {
            self.endpoint_supported = false;
            let policy = clock.config.policy;
            let _ = clock.update_policy(|p| p.mark_endpoint_unsupported(&policy, received));
            return match date {
                Ok(Some(_)) => Outcome::Continue,
                Ok(None) => self.fail(Error::Unsupported(
                    "the homeserver has no MSC4094 endpoint and sends no Date header".into(),
                )),
                Err(e) => self.fail(e),
            };
        }
        let error = protocol::response_to_error(response, request);
        self.fail(error)
    }

    /// A reply to a `Date` probe.
    fn date_reply(
        &mut self,
        request: &HttpRequest,
        response: &HttpResponse,
        purpose: DateProbePurpose,
        sent: i64,
        received: i64,
    ) -> Outcome {
        match Self::date_sample(response, sent, received) {
            Ok(Some(s)) => self.push_for(s, purpose),
            Ok(None) => {
                return self.fail(Error::ProtocolViolation(format!(
                    "HTTP {} from the homeserver has no Date header to take the time from",
                    response.status
                )))
            }
            Err(e) => return self.fail(e),
        }
        if response.status == 429 {
            let e = protocol::response_to_error(response, request);
            return self.fail(e);
        }
        Outcome::Continue
    }

    /// Remembers how far the `Date` header of an endpoint reply lies outside
    /// what the reply's own body allows (see
    /// [`SyncReport::date_disagreement_ms`]).
    fn note_date_disagreement(&mut self, endpoint: &Sample, date: &Sample) {
        if let Some(gap) = interval_gap_ms(date, endpoint) {
            if self
                .date_disagreement_ms
                .is_none_or(|g| gap.unsigned_abs() > g.unsigned_abs())
            {
                self.date_disagreement_ms = Some(gap);
            }
        }
    }

    fn target_ms(&self, clock: &ServerClock) -> i64 {
        let target = burst_target_uncertainty_ms(
            &clock.config.policy,
            self.endpoint_supported,
            self.min_rtt_ms,
        );
        refresh_target_uncertainty_ms(&clock.config.policy, target, self.refresh)
    }

    /// Enough: the estimate is tight, confirmed by two agreeing samples, and
    /// the newest sample is one of them (else the burst goes on to confirm
    /// or refute a possible server clock step). A `Date` burst also stops
    /// when it is refused already.
    pub(crate) fn good_enough(&self, clock: &ServerClock) -> bool {
        let drift = clock.config.drift_ppm;
        if self.endpoint_supported {
            burst_complete(&self.window, &self.new, drift, self.target_ms(clock))
        } else {
            self.date
                .complete(drift, self.min_rtt_ms, self.target_ms(clock))
                || self.date.refused(drift)
        }
    }

    /// A finished `Date` burst's verdict ([`DateBurst::verdict`]): its
    /// samples may be used, or it is refused (`Inconsistent`). Endpoint
    /// bursts always pass: the estimator votes on them with the window.
    fn verdict(&self, clock: &ServerClock) -> Result<()> {
        if self.endpoint_supported {
            return Ok(());
        }
        self.date.verdict(
            clock.config.drift_ppm,
            self.min_rtt_ms,
            self.target_ms(clock),
        )
    }

    /// The samples the window keeps: all of an endpoint burst's; of a
    /// `Date` burst, what [`DateBurst::evidence`] keeps.
    fn evidence(&self, clock: &ServerClock) -> Vec<Sample> {
        if self.endpoint_supported {
            return self.new.clone();
        }
        self.date.evidence(
            clock.config.drift_ppm,
            self.min_rtt_ms,
            self.target_ms(clock),
        )
    }

    /// Ends the burst at `now_boot_ms`: commits its samples and updates the
    /// policy memory.
    pub(crate) fn finish(mut self, clock: &ServerClock, now_boot_ms: i64) -> Result<SyncReport> {
        // A `Date` reply that contradicted the others: the server may answer
        // with more than one clock; its next `Date` bursts are stricter.
        if !self.endpoint_supported && self.date.showed_another_clock(clock.config.drift_ppm) {
            clock.update_policy(|p| p.record_several_clocks(now_boot_ms))?;
        }
        // Samples are kept whatever happened after them. The server's own
        // refusals (auth, 429, 5xx) still fail the sync so the app hears of
        // them; a network failure after good samples only shortens the burst.
        let result = if self.new.is_empty() {
            Err(self.last_error.take().unwrap_or_else(|| {
                Error::ProtocolViolation("the homeserver gave no usable time".into())
            }))
        } else if let Err(refused) = self.verdict(clock) {
            // Contradictory Date replies: neither the window nor the
            // estimate takes any of them.
            Err(refused)
        } else {
            let committed = clock.commit_samples(&self.evidence(clock));
            match self.last_error.take() {
                Some(e @ (Error::Http { .. } | Error::RateLimited { .. })) if committed.is_ok() => {
                    Err(e)
                }
                _ => committed,
            }
        };
        // Every error is already scrubbed where outside text entered it
        // (`into_error`, `response_to_error`); the parsers quote none.
        match result {
            Ok(estimate) => Ok(SyncReport {
                requests: self.requests,
                samples_taken: self.new.len() as u32,
                source: estimate.source,
                endpoint_supported: self.endpoint_supported,
                reason: self.reason,
                min_rtt_ms: self.min_rtt_ms,
                date_disagreement_ms: self.date_disagreement_ms,
                estimate,
            }),
            Err(e) => {
                let policy = clock.config.policy;
                let random = clock.next_random();
                // After commit_samples, so its record_success cannot undo this.
                match e {
                    Error::RateLimited { retry_after_ms } => clock.update_policy(|p| {
                        p.record_rate_limited(&policy, now_boot_ms, Some(retry_after_ms))
                    })?,
                    _ => {
                        clock.update_policy(|p| p.record_failure(&policy, now_boot_ms, random))?;
                    }
                }
                Err(e)
            }
        }
    }
}

/// How far interval `a` lies from interval `b`, ms: positive when `a` is
/// entirely above `b`, negative when entirely below, `None` when they
/// overlap. Two intervals for θ that come from one reply both contain the
/// truth if one clock set them both, so a gap proves two clocks.
fn interval_gap_ms(a: &Sample, b: &Sample) -> Option<i64> {
    if a.lo_ms > b.hi_ms {
        Some(a.lo_ms.saturating_sub(b.hi_ms))
    } else if a.hi_ms < b.lo_ms {
        Some(a.hi_ms.saturating_sub(b.lo_ms))
    } else {
        None
    }
}

impl ServerClock {
    /// Runs one sync over the clock's transport, sharing a burst already in
    /// flight (blocking callers wait for its result; a burst abandoned by
    /// its caller is taken over).
    fn sync_blocking(&self, reason: Option<SyncReason>) -> Result<SyncReport> {
        let transport = self.transport.clone().ok_or_else(|| {
            Error::InvalidConfig(
                "no homeserver_url (or no transport: the `http` feature is off); \
                 set one, or feed samples with add_sample/observe_event, or drive \
                 a sync yourself with start_sync"
                    .into(),
            )
        })?;
        loop {
            let mut session = Session::start(self, self.time.boot_ms(), reason)?;
            if let Some(flight) = session.joined_flight() {
                match flight.wait_while_running(self) {
                    FlightState::Finished(result) => return result,
                    // Its caller went away, or another caller took over: try
                    // again (lead, or join the new burst).
                    _ => continue,
                }
            }
            return self.drive(&mut session, &*transport);
        }
    }

    /// The blocking driver: sends each request through `transport`, sleeps
    /// through each wait, until the session is done.
    fn drive(&self, session: &mut Session, transport: &dyn HttpTransport) -> Result<SyncReport> {
        let mut waited_until = i64::MIN;
        loop {
            let action = session.next_action_after_wait(self, self.time.boot_ms(), waited_until)?;
            match action {
                SyncAction::Send {
                    request_id,
                    request,
                } => {
                    waited_until = i64::MIN;
                    let sent = self.time.boot_ms();
                    let reply = transport.get(request);
                    let received = self.time.boot_ms();
                    session.receive(self, request_id, sent, received, reply)?;
                }
                SyncAction::Wait { until_boot_ms } => {
                    let wait = until_boot_ms.saturating_sub(self.time.boot_ms());
                    self.sleeper.sleep_ms(wait);
                    waited_until = until_boot_ms;
                }
                SyncAction::Done { report } => return Ok(report),
            }
        }
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl ServerClock {
    /// Syncs now: a burst of requests (blocking; each request bounded by
    /// `request_timeout_ms`, a `Date`-only burst also waits up to a second
    /// per probe to time it; the whole sync by `policy.max_sync_ms`, or one
    /// request timeout if that is longer). Concurrent callers share one
    /// burst, also one that a [`SyncSession`](crate::SyncSession) drives.
    /// Honours a server's 429 `Retry-After` (returns `RateLimited` without a
    /// request). To drive a sync with your own HTTP client, see
    /// [`start_sync`](Self::start_sync).
    pub fn sync(&self) -> Result<SyncReport> {
        self.sync_blocking(None)
    }

    /// Syncs only if due (no estimate, uncertainty too high, reboot, network
    /// change) and allowed (minimum interval, backoff, 429). Returns None
    /// when nothing was done.
    pub fn sync_if_needed(&self) -> Result<Option<SyncReport>> {
        match self.sync_due(self.time.boot_ms())? {
            Some(reason) => self.sync_blocking(Some(reason)).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::SampleSource;

    fn s(lo_ms: i64, hi_ms: i64) -> Sample {
        Sample {
            source: SampleSource::DateHeader,
            lo_ms,
            hi_ms,
            taken_boot_ms: 0,
        }
    }

    #[test]
    fn gap_between_intervals_is_signed_and_none_when_they_touch() {
        assert_eq!(interval_gap_ms(&s(10, 20), &s(0, 5)), Some(5));
        assert_eq!(interval_gap_ms(&s(0, 5), &s(10, 20)), Some(-5));
        assert_eq!(interval_gap_ms(&s(0, 10), &s(10, 20)), None);
        assert_eq!(interval_gap_ms(&s(0, 30), &s(10, 20)), None);
        assert_eq!(interval_gap_ms(&s(12, 13), &s(10, 20)), None);
    }
}
