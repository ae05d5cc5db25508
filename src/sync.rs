//! One sync burst over HTTP: the blocking driver of the pure decisions in
//! [`crate::policy`] (endpoint bursts) and [`crate::probe`] (`Date` bursts).
//!
//! The MSC4094 endpoint first; when the server lacks it (404, 405,
//! `M_UNRECOGNIZED`), the `Date` header of the same reply, refined by
//! phase-targeted probes and then confirmed at both edges (see
//! [`crate::probe`]); a `Date` burst whose replies contradict each other
//! beyond one falseticker is refused and its samples dropped. Every reply
//! that carries a valid `Date` header yields a sample, whatever its status;
//! a reply with an `Age` header (any value) came from a cache, and only its
//! `Date` header is used, widened by the age.

use std::sync::Arc;

use crate::clock::{ServerClock, SyncReport};
use crate::config::DATE_PROBE_PATH;
use crate::error::{Error, Result};
use crate::policy::{burst_complete, burst_target_uncertainty_ms, SyncReason, BURST_MIN_GAP_MS};
use crate::probe::{DateBurst, DateProbePurpose};
use crate::sample::Sample;
use crate::transport::{
    parse, redact_error, HomeserverUrl, HttpHeader, HttpRequest, HttpResponse, HttpTransport,
};

/// What one exchange gave.
enum Outcome {
    /// Keep going.
    Continue,
    /// Stop the burst (rate limited, server error, network failure).
    Stop,
}

struct Burst<'a> {
    clock: &'a ServerClock,
    transport: Arc<dyn HttpTransport>,
    url: HomeserverUrl,
    /// Window before the burst plus what it took, for early-stop decisions.
    window: Vec<Sample>,
    new: Vec<Sample>,
    /// The burst's `Date` replies, for the `Date` path's decisions.
    date: DateBurst,
    requests: u32,
    endpoint_supported: bool,
    last_error: Option<Error>,
    min_rtt_ms: Option<i64>,
    last_received_boot_ms: Option<i64>,
}

impl Burst<'_> {
    /// The `Date` sample of any reply: `Ok(None)` when it has no `Date`,
    /// an error when the header (or a conflicting duplicate, or `Age`) is bad.
    fn date_sample(
        &mut self,
        response: &HttpResponse,
        sent: i64,
        received: i64,
    ) -> Result<Option<Sample>> {
        if response.header("date").is_none() {
            return Ok(None);
        }
        let (date_s, age_s) = parse::response_date(response)?;
        Ok(Some(Sample::from_date_header(
            sent, received, date_s, age_s,
        )?))
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

    fn exchange(&mut self, request: &HttpRequest) -> (Result<HttpResponse>, i64, i64) {
        self.pace();
        let sent = self.clock.time.boot_ms();
        // A foreign transport may echo request details (the token) into its
        // error text: scrub before the error goes anywhere.
        let response = self
            .transport
            .get(request.clone())
            .map_err(|e| redact_error(e.into_error(request.timeout_ms), request));
        let received = self.clock.time.boot_ms();
        self.last_received_boot_ms = Some(received);
        self.requests += 1;
        if response.is_ok() {
            let rtt = received.saturating_sub(sent);
            self.min_rtt_ms = Some(self.min_rtt_ms.map_or(rtt, |m| m.min(rtt)));
        }
        (response, sent, received)
    }

    fn fail(&mut self, e: Error) -> Outcome {
        self.last_error = Some(e);
        Outcome::Stop
    }

    /// One request to the MSC4094 endpoint.
    fn endpoint_step(&mut self) -> Outcome {
        let c = &self.clock.config;
        let request = parse::server_now_request(
            &self.url,
            &c.endpoint_path,
            c.access_token.as_deref(),
            c.request_timeout_ms,
        );
        let (response, sent, received) = self.exchange(&request);
        let response = match response {
            Ok(r) => r,
            Err(e) => return self.fail(e),
        };
        // The Date header is a fallback for whatever the status says.
        let date = self.date_sample(&response, sent, received);
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
                Ok(None) => self.fail(Error::Protocol(
                    "a cache answered (Age header) and the reply has no Date header".into(),
                )),
                Err(e) => self.fail(e),
            };
        }
        if response.status == 200 {
            match parse::parse_server_now_body(&response.body)
                .and_then(|ms| Sample::from_endpoint(sent, received, ms))
            {
                Ok(s) => {
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
        if parse::is_endpoint_unsupported(&response) {
            self.endpoint_supported = false;
            let now = self.clock.time.boot_ms();
            let policy = self.clock.config.policy;
            let _ = self
                .clock
                .update_policy(|p| p.mark_endpoint_unsupported(&policy, now));
            return match date {
                Ok(Some(_)) => Outcome::Continue,
                Ok(None) => self.fail(Error::Unsupported(
                    "the homeserver has no MSC4094 endpoint and sends no Date header".into(),
                )),
                Err(e) => self.fail(e),
            };
        }
        let error = parse::response_to_error(&response, &request);
        self.fail(error)
    }

    /// One `Date` probe, timed against the second boundary by the burst's
    /// own replies (see [`crate::probe`]).
    fn date_step(&mut self) -> Outcome {
        let now = self.clock.time.boot_ms();
        // Not before the spacing `pace` will impose, so the timing holds.
        let earliest = self
            .last_received_boot_ms
            .map_or(now, |last| now.max(last.saturating_add(BURST_MIN_GAP_MS)));
        let probe = self.date.next_probe(
            self.clock.config.drift_ppm,
            self.min_rtt_ms,
            self.target_ms(),
            earliest,
        );
        let wait = probe
            .send_at_boot_ms
            .saturating_sub(now)
            .clamp(0, 1_000 + BURST_MIN_GAP_MS);
        self.clock.sleeper.sleep_ms(wait);
        let request = HttpRequest {
            url: self.url.join(DATE_PROBE_PATH),
            headers: vec![
                HttpHeader::new("Cache-Control", "no-cache"),
                HttpHeader::new("Accept", "application/json"),
            ],
            timeout_ms: self.clock.config.request_timeout_ms,
        };
        let (response, sent, received) = self.exchange(&request);
        let response = match response {
            Ok(r) => r,
            Err(e) => return self.fail(e),
        };
        match self.date_sample(&response, sent, received) {
            Ok(Some(s)) => self.push_for(s, probe.purpose),
            Ok(None) => {
                return self.fail(Error::Protocol(format!(
                    "HTTP {} from the homeserver has no Date header to take the time from",
                    response.status
                )))
            }
            Err(e) => return self.fail(e),
        }
        if response.status == 429 {
            let e = parse::response_to_error(&response, &request);
            return self.fail(e);
        }
        Outcome::Continue
    }

    fn target_ms(&self) -> i64 {
        burst_target_uncertainty_ms(
            &self.clock.config.policy,
            self.endpoint_supported,
            self.min_rtt_ms,
        )
    }

    /// Enough: the estimate is tight, confirmed by two agreeing samples, and
    /// the newest sample is one of them (else the burst goes on to confirm
    /// or refute a possible server clock step). A `Date` burst also stops
    /// when it is refused already.
    fn good_enough(&self) -> bool {
        let drift = self.clock.config.drift_ppm;
        if self.endpoint_supported {
            burst_complete(&self.window, &self.new, drift, self.target_ms())
        } else {
            self.date.complete(drift, self.min_rtt_ms, self.target_ms()) || self.date.refused(drift)
        }
    }

    /// The samples the window keeps: all of an endpoint burst's; of a
    /// `Date` burst, what [`DateBurst::evidence`] keeps.
    fn evidence(&self) -> Vec<Sample> {
        if self.endpoint_supported {
            return self.new.clone();
        }
        self.date.evidence(
            self.clock.config.drift_ppm,
            self.min_rtt_ms,
            self.target_ms(),
        )
    }

    /// A finished `Date` burst's verdict: its samples may be used, or it is
    /// refused (`Inconsistent`). Endpoint bursts always pass: the estimator
    /// votes on them with the window.
    fn verdict(&self) -> Result<()> {
        if self.endpoint_supported {
            return Ok(());
        }
        self.date.verdict(
            self.clock.config.drift_ppm,
            self.min_rtt_ms,
            self.target_ms(),
        )
    }

    /// Spaces requests out (see [`BURST_MIN_GAP_MS`]).
    fn pace(&self) {
        if let Some(last) = self.last_received_boot_ms {
            let wait = last
                .saturating_add(BURST_MIN_GAP_MS)
                .saturating_sub(self.clock.time.boot_ms());
            self.clock.sleeper.sleep_ms(wait.clamp(0, BURST_MIN_GAP_MS));
        }
    }
}

impl ServerClock {
    /// One burst against the homeserver; see [`ServerClock::sync`].
    pub(crate) fn run_sync(&self, reason: Option<SyncReason>) -> Result<SyncReport> {
        let transport = self.transport.clone().ok_or_else(|| {
            Error::InvalidConfig(
                "no homeserver_url (or no transport: the `http` feature is off); \
                 set one, or feed samples with add_sample/observe_event"
                    .into(),
            )
        })?;
        let url =
            HomeserverUrl::parse(&self.config.homeserver_url, self.config.allow_insecure_http)?;
        let now = self.time.boot_ms();
        let policy_state = self.policy_state()?;
        if let Some(retry_at) = policy_state.retry_at_boot_ms {
            if policy_state.rate_limited && now < retry_at {
                return Err(Error::RateLimited {
                    retry_after_ms: (retry_at - now) as u64,
                });
            }
        }
        self.update_policy(|p| p.record_attempt(now))?;
        // The request that carries the token, for scrubbing it from any
        // message a reply may have echoed it into (Date, Age, body).
        let token_request = parse::server_now_request(
            &url,
            &self.config.endpoint_path,
            self.config.access_token.as_deref(),
            self.config.request_timeout_ms,
        );
        let mut burst = Burst {
            clock: self,
            transport,
            url,
            window: self.window()?,
            new: Vec::new(),
            date: DateBurst::new(),
            requests: 0,
            endpoint_supported: policy_state.endpoint_supported(now),
            last_error: None,
            min_rtt_ms: None,
            last_received_boot_ms: None,
        };
        let policy = self.config.policy;
        loop {
            let budget = if burst.endpoint_supported {
                policy.max_samples_per_sync
            } else {
                policy.date_probe_budget
            };
            if burst.requests >= budget {
                break;
            }
            // The whole sync stays within max_sync_ms: no request starts that
            // could end after it (a Date probe may first wait up to 1 s).
            let elapsed = self.time.boot_ms().saturating_sub(now);
            let next_ms = (self.config.request_timeout_ms as i64).saturating_add(
                if burst.endpoint_supported {
                    BURST_MIN_GAP_MS
                } else {
                    1_000
                },
            );
            if burst.requests > 0 && elapsed.saturating_add(next_ms) > policy.max_sync_ms {
                break;
            }
            let outcome = if burst.endpoint_supported {
                burst.endpoint_step()
            } else {
                burst.date_step()
            };
            if matches!(outcome, Outcome::Stop) || burst.good_enough() {
                break;
            }
        }
        // Samples are kept whatever happened after them. The server's own
        // refusals (auth, 429, 5xx) still fail the sync so the app hears of
        // them; a network failure after good samples only shortens the burst.
        let result = if burst.new.is_empty() {
            Err(burst
                .last_error
                .take()
                .unwrap_or_else(|| Error::Protocol("the homeserver gave no usable time".into())))
        } else if let Err(refused) = burst.verdict() {
            // Contradictory Date replies: neither the window nor the
            // estimate takes any of them.
            Err(refused)
        } else {
            let committed = self.commit_samples(&burst.evidence());
            match burst.last_error.take() {
                Some(e @ (Error::Http { .. } | Error::RateLimited { .. })) if committed.is_ok() => {
                    Err(e)
                }
                _ => committed,
            }
        };
        let result = result.map_err(|e| redact_error(e, &token_request));
        match result {
            Ok(estimate) => Ok(SyncReport {
                requests: burst.requests,
                samples_taken: burst.new.len() as u32,
                source: estimate.source,
                endpoint_supported: burst.endpoint_supported,
                reason,
                min_rtt_ms: burst.min_rtt_ms,
                estimate,
            }),
            Err(e) => {
                let now = self.time.boot_ms();
                let random = self.next_random();
                // After commit_samples, so its record_success cannot undo this.
                match e {
                    Error::RateLimited { retry_after_ms } => self.update_policy(|p| {
                        p.record_rate_limited(&policy, now, Some(retry_after_ms))
                    })?,
                    _ => {
                        self.update_policy(|p| p.record_failure(&policy, now, random))?;
                    }
                }
                Err(e)
            }
        }
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl ServerClock {
    /// Syncs now: a burst of requests (blocking; each request bounded by
    /// `request_timeout_ms`, a `Date`-only burst also waits up to a second
    /// per probe to time it; the whole sync by `policy.max_sync_ms`, or one
    /// request timeout if that is longer). Concurrent callers share one burst. Honours a
    /// server's 429 `Retry-After` (returns `RateLimited` without a request).
    pub fn sync(&self) -> Result<SyncReport> {
        self.single_flight(|| self.run_sync(None))
    }

    /// Syncs only if due (no estimate, uncertainty too high, reboot, network
    /// change) and allowed (minimum interval, backoff, 429). Returns None
    /// when nothing was done.
    pub fn sync_if_needed(&self) -> Result<Option<SyncReport>> {
        let Some(reason) = self.sync_reason() else {
            return Ok(None);
        };
        let earliest = self
            .policy_state()?
            .earliest_sync_boot_ms(&self.config.policy);
        if self.time.boot_ms() < earliest {
            return Ok(None);
        }
        self.single_flight(|| self.run_sync(Some(reason))).map(Some)
    }
}
