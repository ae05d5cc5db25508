//! The `Date`-header burst as pure decisions: when to send the next probe,
//! when the burst has done enough, and when it must be refused. Samples,
//! round trips and times come in as arguments.
//!
//! A `Date` header has a resolution of one second. A probe timed to reach
//! the server as the predicted server time crosses a whole second narrows
//! that down (htpdate's trick): the reply's `Date` says on which side of the
//! boundary the server was. Narrowing alone believes every reply, and every
//! `Date` interval is a second wide, so it overlaps almost anything: one
//! lying reply, or a second backend with another clock, moves the boundary,
//! and the probes converge on a narrow interval between the clocks that no
//! reply contradicts. So the burst checks itself:
//!
//! 1. **Narrow.** While the burst's survivors agree on an interval wider
//!    than the target, the next probe aims at its midpoint. An edge that
//!    has not moved while five replies narrowed the other side is confirmed
//!    first (see below): a lying reply that set it would otherwise draw all
//!    later probes towards itself.
//! 2. **Confirm.** Then each edge of that agreement must be backed by a
//!    confirmation: a reply to a probe aimed just outside it, taken after
//!    the reply that set the edge (narrowing replies of one clock land next
//!    to each other whatever a second clock does, so they back nothing). A
//!    probe timed to arrive just *after* the boundary predicted from the
//!    lower edge backs that edge: a server whose clock is at or above it
//!    says the new second. One timed to arrive just *before* the boundary
//!    predicted from the upper edge (plus the round trip) backs the upper
//!    edge. A server clock outside the agreement answers the other way, and
//!    its reply is disjoint from the reply that set the edge. A reply backs
//!    only the edge its probe was sent for (a probe that left late lands
//!    elsewhere), and one of an edge's confirmations must come an odd number
//!    of replies after the reply that set it: with two backends taking
//!    turns, the backend that did not set it answers, whatever probes were
//!    wasted before (the edge not in turn waits for the next reply). Once a
//!    reply contradicted the others, each edge needs two confirmations, and
//!    the burst may go past its budget for them.
//!    Replies that cannot be narrowed below a second (cached: `Age`; or a
//!    round trip of a second) are not confirmed.
//! 3. **Refuse.** The burst's own replies must agree but for at most one
//!    falseticker. Two or more (two backends, a clock step in the middle of
//!    the burst, several liars) refuse the burst with
//!    [`Error::Inconsistent`], and so does one falseticker when the burst
//!    ran out of probes before it confirmed both edges again. A refused
//!    burst's samples are not used.
//! 4. **Keep the evidence.** A completed burst hands the window only the
//!    replies that set the agreement's edges and, per edge, the loosest
//!    confirmation backing it ([`DateBurst::evidence`]): the estimate stays
//!    the agreement's midpoint, and the reported bounds reach as far as the
//!    confirmations did, so a second clock within a round trip of an edge,
//!    which a confirmation cannot tell apart, is still inside them.
//!
//! The burst decides from its own samples only: older ones, widened by
//! drift, would agree with a clock they never saw.
//!
//! A second backend that answers at random (not in turn) is caught only as
//! often as it happens to answer a confirmation probe: each one it answers
//! while the burst sits between the two clocks contradicts an edge. Of such
//! syncs, a share gives an interval between the clocks (measured in
//! `tests/sans_io/honesty.rs`).

use crate::error::{Error, Result};
use crate::estimate::{drift_widening_ms, falsetickers_needed, select, Selection};
use crate::policy::date_probe_send_at_boot_ms;
use crate::sample::{Sample, SampleSource};

/// What a `Date` probe is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProbePurpose {
    /// Halve the interval the burst's replies agree on.
    Narrow,
    /// Back the lower edge of the agreement (arrives just after a boundary).
    ConfirmLower,
    /// Back the upper edge of the agreement (arrives just before a boundary).
    ConfirmUpper,
}

/// The next `Date` probe: when to send it and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateProbe {
    /// Boot time to send the request at (never before the earliest allowed).
    pub send_at_boot_ms: i64,
    /// What the reply is meant to tell.
    pub purpose: DateProbePurpose,
}

/// How far a confirmation reply must land outside the edge it checks for a
/// clock beyond that edge to give a reply disjoint from the edge's: the
/// drift widening of both replies over a burst (20 s) and 1 ms to spare.
fn detect_ms(drift_ppm: u32) -> i64 {
    drift_widening_ms(drift_ppm, 20_000)
        .saturating_mul(2)
        .saturating_add(1)
}

/// The round trip a confirmation allows for: the longest one among the
/// burst's `Date` replies (a `Date` sample is a second, the round trip and
/// 1 ms wide, and a cached one a second more per `Age`), but at most twice
/// the shortest plus 10 ms, so that one delayed reply does not loosen the
/// bound; at least `rtt_ms`.
fn rtt_allowance_ms(taken: &[Sample], rtt_ms: i64) -> i64 {
    let excess: Vec<i64> = taken
        .iter()
        .filter(|s| s.source == SampleSource::DateHeader)
        .map(|s| s.width_ms().saturating_sub(1_001).max(0))
        .collect();
    let shortest = excess.iter().copied().min().unwrap_or(0).max(rtt_ms.max(0));
    let longest = excess.iter().copied().max().unwrap_or(0);
    longest.clamp(shortest, shortest.saturating_mul(2).saturating_add(10))
}

/// How far outside an edge of the agreement a later reply's edge may lie
/// and still back it: where a confirmation reply lands, for a round trip up
/// to `rtt_ms` (the longest round trip of the burst, at most twice its
/// shortest plus 10 ms) and a probe sent up to 10 ms late
/// (a busy device). Only the bound reported depends on it, never the
/// estimate.
pub(crate) fn confirm_margin_ms(rtt_ms: i64, drift_ppm: u32) -> i64 {
    rtt_ms
        .max(0)
        .saturating_add(detect_ms(drift_ppm))
        .saturating_add(12)
}

/// A `Date` burst so far: its own replies, and which of them answered a
/// confirmation probe. Pure data; the sync loop records each reply with the
/// purpose of the probe that drew it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateBurst {
    samples: Vec<Sample>,
    /// Replies to probes sent to confirm the lower edge.
    lower_confirmations: Vec<Sample>,
    /// Replies to probes sent to confirm the upper edge.
    upper_confirmations: Vec<Sample>,
}

/// Where a burst stands, from its own samples.
struct Standing {
    sel: Selection,
    /// The agreement is at most the target wide.
    narrow: bool,
    /// The lower edge is backed by confirmation replies taken after the one
    /// that set it.
    lower_backed: bool,
    /// The upper edge is backed likewise.
    upper_backed: bool,
    /// Some confirmation reply taken after the lower edge was set backs it.
    lower_checked: bool,
    /// Likewise for the upper edge.
    upper_checked: bool,
    /// The upper edge was set more recently than the lower one.
    upper_newer: bool,
    /// Replies taken since the lower edge was set.
    lower_age: usize,
    /// Replies taken since the upper edge was set.
    upper_age: usize,
    /// Index (among the burst's replies) of the reply that set the lower
    /// edge, while no confirmation answered in turn after it backs it.
    lower_owner: Option<usize>,
    /// Likewise for the upper edge.
    upper_owner: Option<usize>,
    /// The replies that set the agreement's edges and, for each edge, the
    /// loosest confirmation that backs it, oldest first.
    evidence: Vec<Sample>,
}

/// An edge that has not moved while this many replies narrowed the other
/// side is confirmed before narrowing on: a lying reply that set it would
/// otherwise draw every later probe towards itself.
const STALE_EDGE_REPLIES: usize = 5;

impl DateBurst {
    /// An empty burst.
    pub fn new() -> DateBurst {
        DateBurst::default()
    }

    /// Records a reply to a probe sent for `purpose` (the first reply of a
    /// burst, and a `Date` header that came with some other reply, count as
    /// [`DateProbePurpose::Narrow`]).
    pub fn record(&mut self, sample: Sample, purpose: DateProbePurpose) {
        self.samples.push(sample);
        match purpose {
            DateProbePurpose::ConfirmLower => self.lower_confirmations.push(sample),
            DateProbePurpose::ConfirmUpper => self.upper_confirmations.push(sample),
            DateProbePurpose::Narrow => {}
        }
    }

    /// The burst's replies, in the order taken.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    fn standing(&self, drift_ppm: u32, rtt_ms: i64, target_ms: i64) -> Option<Standing> {
        let taken = &self.samples;
        let sel = select(taken, drift_ppm).ok()?;
        let margin = confirm_margin_ms(rtt_allowance_ms(taken, rtt_ms), drift_ppm);
        // A reply that contradicts the others was either a lie or a second
        // clock: each edge then needs two confirmations, so that a second
        // clock taking turns answers one of each pair.
        let required = if sel.falsetickers.is_empty() && sel.dropped_by_step.is_empty() {
            1
        } else {
            2
        };
        let widened = |s: &Sample| {
            let w = drift_widening_ms(drift_ppm, sel.ref_boot_ms.saturating_sub(s.taken_boot_ms));
            (s.lo_ms.saturating_sub(w), s.hi_ms.saturating_add(w))
        };
        // For one edge: when it was set (the newest survivor whose widened
        // edge it is), and whether confirmation replies taken later back it
        // from outside, within the margin. Only a probe aimed outside the
        // agreement tests it: narrowing replies of one clock land next to
        // each other whatever the other clock does.
        let edge = |upper: bool| {
            let value = |s: &Sample| if upper { widened(s).1 } else { widened(s).0 };
            let agreed = if upper {
                sel.agreed_hi_ms
            } else {
                sel.agreed_lo_ms
            };
            let owner = sel
                .survivors
                .iter()
                .filter(|s| value(s) == agreed)
                .max_by_key(|s| s.taken_boot_ms)
                .copied();
            let set_at = owner.map_or(i64::MIN, |s| s.taken_boot_ms);
            let owner_index = owner.and_then(|o| taken.iter().position(|s| *s == o));
            let outside = |s: &Sample| {
                if upper {
                    value(s).saturating_sub(agreed)
                } else {
                    agreed.saturating_sub(value(s))
                }
            };
            // A reply backs the edge it was sent to confirm (a probe sent
            // late lands elsewhere, and may look like a confirmation of the
            // other edge), and one of them must have come an odd number of
            // replies after the one that set the edge: with two backends
            // taking turns, the other backend answered it (a reply from the
            // edge's own backend tests nothing).
            let confirmations = if upper {
                &self.upper_confirmations
            } else {
                &self.lower_confirmations
            };
            let in_turn = |s: &Sample| {
                let index = taken.iter().position(|t| t == s);
                match (index, owner_index) {
                    (Some(i), Some(o)) => i > o && (i - o) % 2 == 1,
                    _ => true,
                }
            };
            let backing: Vec<&Sample> = sel
                .survivors
                .iter()
                .filter(|s| confirmations.contains(s))
                .filter(|s| s.taken_boot_ms > set_at && (0..=margin).contains(&outside(s)))
                .collect();
            let turn_backed = backing.iter().any(|s| in_turn(s));
            let backed = backing.len() >= required && turn_backed;
            let checked = !backing.is_empty();
            // The loosest backing: a confirmation that a clock beyond the
            // edge answered without contradicting it lands farther out.
            let loosest = backing.into_iter().max_by_key(|s| outside(s)).copied();
            let evidence = owner.into_iter().chain(loosest);
            let owner = owner_index.filter(|_| !turn_backed);
            (set_at, backed, checked, evidence, owner)
        };
        let (lower_set_at, lower_backed, lower_checked, lower_evidence, lower_owner) = edge(false);
        let (upper_set_at, upper_backed, upper_checked, upper_evidence, upper_owner) = edge(true);
        let mut evidence: Vec<Sample> = Vec::new();
        for s in lower_evidence.chain(upper_evidence) {
            if !evidence.contains(&s) {
                evidence.push(s);
            }
        }
        evidence.sort_by_key(|s| s.taken_boot_ms);
        // Replies a cache answered (`Age`: a second wider) or that took a
        // second or more carry no sub-second phase to narrow or confirm.
        let coarse = taken
            .iter()
            .filter(|s| s.source == SampleSource::DateHeader)
            .all(|s| s.width_ms() >= 2_001);
        let (lower_backed, upper_backed) = (lower_backed || coarse, upper_backed || coarse);
        let age = |set_at: i64| taken.iter().filter(|s| s.taken_boot_ms > set_at).count();
        // Drift widens the agreement while the burst goes on (a second per
        // confirmation probe): allow for it. Narrowing below half the round
        // trip is not possible, and slow near it: the target is at least
        // half the (jittery) round trip allowed for.
        let slack = drift_widening_ms(drift_ppm, 20_000);
        let floor = rtt_allowance_ms(taken, rtt_ms) / 2 + 2;
        Some(Standing {
            narrow: coarse
                || sel.agreed_half_width_ms() <= target_ms.max(floor).saturating_add(slack),
            lower_backed,
            upper_backed,
            lower_checked,
            upper_checked,
            upper_newer: upper_set_at > lower_set_at,
            lower_age: age(lower_set_at),
            upper_age: age(upper_set_at),
            lower_owner,
            upper_owner,
            evidence,
            sel,
        })
    }

    /// The next probe, for drift `drift_ppm`, shortest round trip `rtt_ms`,
    /// an agreement to reach of at most `target_ms` on each side, sent no
    /// earlier than `earliest_boot_ms` (now, or later if requests must be
    /// spaced out).
    ///
    /// ```
    /// use mxclock::__internal::{DateBurst, DateProbePurpose};
    /// // Nothing yet: send at once.
    /// let p = DateBurst::new().next_probe(100, None, 16, 5_000);
    /// assert_eq!((p.send_at_boot_ms, p.purpose), (5_000, DateProbePurpose::Narrow));
    /// ```
    pub fn next_probe(
        &self,
        drift_ppm: u32,
        rtt_ms: Option<i64>,
        target_ms: i64,
        earliest_boot_ms: i64,
    ) -> DateProbe {
        let rtt = rtt_ms.unwrap_or(0).max(0);
        let narrow = |offset_ms: i64| DateProbe {
            send_at_boot_ms: date_probe_send_at_boot_ms(offset_ms, rtt, earliest_boot_ms),
            purpose: DateProbePurpose::Narrow,
        };
        let Some(st) = self.standing(drift_ppm, rtt, target_ms) else {
            // No agreement to time the probe by (nothing yet, or replies
            // that contradict each other): any phase is as good as another.
            return DateProbe {
                send_at_boot_ms: earliest_boot_ms,
                purpose: DateProbePurpose::Narrow,
            };
        };
        let upper = if st.narrow {
            match (st.lower_backed, st.upper_backed) {
                (true, true) => return narrow(st.sel.offset_ms()),
                (true, false) => true,
                (false, true) => false,
                // The edge set last first: with two backends taking turns,
                // its confirmation goes to the other one.
                (false, false) => st.upper_newer,
            }
        } else {
            let lower_stale = !st.lower_checked && st.lower_age >= STALE_EDGE_REPLIES;
            let upper_stale = !st.upper_checked && st.upper_age >= STALE_EDGE_REPLIES;
            match (lower_stale, upper_stale) {
                (false, false) => return narrow(st.sel.offset_ms()),
                (true, false) => false,
                (false, true) => true,
                (true, true) => st.upper_age >= st.lower_age,
            }
        };
        // The next reply answers in turn after the one that set the edge
        // when an odd number of replies lie between them: then a second
        // backend taking turns answers the confirmation. An edge that still
        // needs such a reply and would not get it now waits: the other edge
        // is confirmed first (that reply still tests it, and the next one is
        // in turn).
        let next = self.samples.len();
        let in_turn = |owner: Option<usize>| owner.is_none_or(|o| next > o && (next - o) % 2 == 1);
        let own = if upper {
            st.upper_owner
        } else {
            st.lower_owner
        };
        let upper = if in_turn(own) { upper } else { !upper };
        let detect = detect_ms(drift_ppm);
        if upper {
            // A reply "before the boundary" has the upper edge `agreed_hi +
            // offset` (sent when boot + that is a whole second); one "after"
            // it, from a clock above, has its lower edge `offset − round
            // trip − 1` above `agreed_hi`: beyond it by `detect` when the
            // round trip is within the allowance.
            let allowance = rtt_allowance_ms(&self.samples, rtt);
            let edge = st
                .sel
                .agreed_hi_ms
                .saturating_add(allowance.saturating_add(2).saturating_add(detect));
            DateProbe {
                send_at_boot_ms: date_probe_send_at_boot_ms(edge, 0, earliest_boot_ms),
                purpose: DateProbePurpose::ConfirmUpper,
            }
        } else {
            // Sent `1 + detect` ms after boot + lower edge is a whole second:
            // a clock at or above the lower edge has passed the boundary on
            // arrival; one below `agreed_lo − 1 − detect` has not, and its
            // reply's upper edge is `detect` below `agreed_lo`.
            let edge = st.sel.agreed_lo_ms.saturating_sub(1 + detect);
            DateProbe {
                send_at_boot_ms: date_probe_send_at_boot_ms(edge, 0, earliest_boot_ms),
                purpose: DateProbePurpose::ConfirmLower,
            }
        }
    }

    /// Whether the burst has done enough: its replies agree on an interval
    /// at most `target_ms` wide on each side, each edge is backed by a
    /// confirmation reply taken after the one that set it (within
    /// [`confirm_margin_ms`] outside it; two each once a reply contradicted
    /// the others), and the newest reply is among the survivors (at least
    /// two: one reply alone never sets an edge).
    pub fn complete(&self, drift_ppm: u32, rtt_ms: Option<i64>, target_ms: i64) -> bool {
        let rtt = rtt_ms.unwrap_or(0).max(0);
        let Some(st) = self.standing(drift_ppm, rtt, target_ms) else {
            return false;
        };
        let newest = self.samples.iter().max_by_key(|s| s.taken_boot_ms);
        let newest_agrees = newest.is_some_and(|n| st.sel.survivors.contains(n));
        let backed_twice = st.sel.survivors.len() >= 2;
        newest_agrees && backed_twice && st.narrow && st.lower_backed && st.upper_backed
    }

    /// The samples to keep from the burst: when it is complete, the replies
    /// that set the edges of the agreement and, for each edge, the loosest
    /// confirmation that backs it; else all of them. The estimate is the
    /// same either way (the agreement is kept), but its bounds then come
    /// from the confirmations: narrowing replies of one clock back each
    /// other's edges whatever a second clock does, and a confirmation that
    /// passes says only that the clock which answered it lies within its
    /// own edge; the loosest one covers every clock that answered one.
    pub fn evidence(&self, drift_ppm: u32, rtt_ms: Option<i64>, target_ms: i64) -> Vec<Sample> {
        let rtt = rtt_ms.unwrap_or(0).max(0);
        match self.standing(drift_ppm, rtt, target_ms) {
            Some(st) if self.complete(drift_ppm, rtt_ms, target_ms) => st.evidence,
            _ => self.samples.clone(),
        }
    }

    /// Whether exactly one reply contradicts the others: a lie, or the first
    /// sign of a second clock. The burst then needs more confirmations
    /// before it is complete, and may send more probes for them
    /// ([`crate::policy::burst_request_limit`]).
    pub fn contradicted(&self, drift_ppm: u32) -> bool {
        falsetickers_needed(&self.samples, drift_ppm) == 1
    }

    /// Whether the burst must stop and be refused already: its replies need
    /// two or more falsetickers to agree.
    pub fn refused(&self, drift_ppm: u32) -> bool {
        falsetickers_needed(&self.samples, drift_ppm) >= 2
    }

    /// The verdict on a finished burst: `Ok` to use its samples,
    /// [`Error::Inconsistent`] to refuse them (see the module documentation).
    pub fn verdict(&self, drift_ppm: u32, rtt_ms: Option<i64>, target_ms: i64) -> Result<()> {
        let falsetickers = falsetickers_needed(&self.samples, drift_ppm);
        if falsetickers >= 2 {
            return Err(Error::Inconsistent(format!(
                "{falsetickers} of the {} Date replies of this sync contradict the others; the \
                 server answers with more than one clock (several backends, or a clock step \
                 during the sync), so none of them were used",
                self.samples.len()
            )));
        }
        if falsetickers == 1 && !self.complete(drift_ppm, rtt_ms, target_ms) {
            return Err(Error::Inconsistent(
                "a Date reply contradicted the others and the sync ran out of requests before \
                 it could confirm the rest; none of them were used"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::Drift;
    use crate::estimate::burst_proves_step;
    use crate::policy::{burst_request_limit, burst_target_uncertainty_ms, SyncPolicy};

    const T0: i64 = 1_750_000_000_000;
    const BUDGET: usize = 20;

    /// Runs a burst as the sync loop does, against a server whose i-th
    /// reply shows θ `clock_of(i)`, `up` and `down` ms away. Returns the
    /// samples kept and the verdict.
    fn run(
        clock_of: &dyn Fn(usize) -> i64,
        up: i64,
        down: i64,
        start: i64,
    ) -> (Vec<Sample>, Result<()>) {
        let policy = SyncPolicy::default();
        let mut burst = DateBurst::new();
        let mut now = start;
        let mut rtt: Option<i64> = None;
        let mut i = 0;
        while i < burst_request_limit(BUDGET as u32, !burst.contradicted(100)) as usize {
            let target = burst_target_uncertainty_ms(&policy, false, rtt);
            let p = burst.next_probe(100, rtt, target, now + 5);
            let server = p.send_at_boot_ms + up + clock_of(i);
            let s = Sample::from_date_header(
                p.send_at_boot_ms,
                p.send_at_boot_ms + up + down,
                server.div_euclid(1000),
                None,
            )
            .unwrap();
            now = s.taken_boot_ms;
            rtt = Some(up + down);
            burst.record(s, p.purpose);
            let target = burst_target_uncertainty_ms(&policy, false, rtt);
            if burst.complete(100, rtt, target) || burst.refused(100) {
                break;
            }
            i += 1;
        }
        let target = burst_target_uncertainty_ms(&policy, false, rtt);
        let verdict = burst.verdict(100, rtt, target);
        (burst.evidence(100, rtt, target), verdict)
    }

    fn covers(taken: &[Sample], theta: i64) -> bool {
        let sel = select(taken, 100).unwrap();
        sel.lo_ms <= theta
            && theta <= sel.hi_ms
            && (sel.offset_ms() - theta).abs() <= sel.half_width_ms()
    }

    #[test]
    fn one_clock_converges_then_confirms_both_edges() {
        for (up, down) in [(1, 1), (3, 5), (20, 30)] {
            let mut probes = Vec::new();
            for phase in (0..1000).step_by(37) {
                let theta = T0 + phase;
                let (taken, verdict) = run(&|_| theta, up, down, 100_000 + phase);
                verdict.unwrap();
                assert!(covers(&taken, theta), "{phase}");
                let target =
                    burst_target_uncertainty_ms(&SyncPolicy::default(), false, Some(up + down));
                let sel = select(&taken, 100).unwrap();
                let most = target + 2 + confirm_margin_ms(up + down, 100);
                assert!(sel.half_width_ms() <= most, "{phase}: {sel:?}");
                probes.push(taken.len());
            }
            let mean = probes.iter().sum::<usize>() as f64 / probes.len() as f64;
            let max = probes.iter().max().copied().unwrap_or(0);
            // Narrowing a second to the target takes 5 or 6 probes after the
            // first, confirming two more.
            assert!(
                mean <= 10.0 && max <= 12,
                "round trip {}: mean {mean} max {max}",
                up + down
            );
        }
    }

    #[test]
    fn two_clocks_taking_turns_are_refused_or_one_of_them() {
        for (up, down) in [(1, 1), (3, 5), (20, 30)] {
            for gap in [300, 700, 1_000, -300, -1_000] {
                for phase in (0..1000).step_by(53) {
                    for first in [0, 1] {
                        let a = T0 + phase;
                        let clock = |i: usize| if (i + first) % 2 == 0 { a } else { a + gap };
                        let (taken, verdict) = run(&clock, up, down, 100_000 + phase);
                        if verdict.is_ok() {
                            assert!(
                                covers(&taken, a) || covers(&taken, a + gap),
                                "gap {gap} phase {phase} first {first}: {:?}",
                                select(&taken, 100)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_lying_reply_is_voted_out_and_an_estimate_given() {
        for (up, down) in [(1, 1), (3, 5)] {
            for at in 0..12 {
                for lie in [1_000, -1_000, 300, -300, 60] {
                    for phase in (0..1000).step_by(111) {
                        let theta = T0 + phase;
                        let clock = |i: usize| if i == at { theta + lie } else { theta };
                        let (taken, verdict) = run(&clock, up, down, 100_000 + phase + at as i64);
                        verdict.unwrap_or_else(|e| panic!("liar at {at} ({lie}, {phase}): {e}"));
                        assert!(covers(&taken, theta), "liar at {at} ({lie}, {phase})");
                    }
                }
            }
        }
    }

    #[test]
    fn the_verdict_refuses_two_falsetickers_and_an_unconfirmed_one() {
        let reply = |i: i64, shift_s: i64| {
            Sample::from_date_header(
                1_000 * i,
                1_000 * i + 2,
                (T0 + 1_000 * i) / 1000 + shift_s,
                None,
            )
            .unwrap()
        };
        let mut burst = DateBurst::new();
        for i in 0..4 {
            burst.record(reply(i, 0), DateProbePurpose::Narrow);
        }
        assert!(
            burst.verdict(100, Some(2), 16).is_ok(),
            "nothing contradicts: usable"
        );
        burst.record(reply(5, 3), DateProbePurpose::Narrow);
        assert_eq!(falsetickers_needed(burst.samples(), 100), 1);
        assert!(!burst.complete(100, Some(2), 16));
        assert!(matches!(
            burst.verdict(100, Some(2), 16),
            Err(Error::Inconsistent(_))
        ));
        burst.record(reply(6, -3), DateProbePurpose::Narrow);
        assert!(burst.refused(100));
        assert!(matches!(
            burst.verdict(100, Some(2), 16),
            Err(Error::Inconsistent(_))
        ));
    }

    #[test]
    fn a_step_between_two_bursts_is_never_split() {
        // A leap second or an NTP step between two syncs: the second burst's
        // replies each overlap the first burst's (a second wide), and only
        // together say which clock they saw. The window of both bursts must
        // hold the new clock (or the old one), never a point between them.
        let mut wrong = Vec::new();
        let mut runs = 0;
        for (up, down) in [(1, 1), (3, 5), (20, 30)] {
            for step in [1_000, -1_000, 970, -1_030, 700, -300] {
                for phase in (0..1000).step_by(29) {
                    let theta = T0 + phase;
                    let (first, verdict) = run(&|_| theta, up, down, 100_000 + phase);
                    verdict.unwrap();
                    let (second, verdict) = run(&|_| theta + step, up, down, 160_000 + phase);
                    if verdict.is_err() {
                        continue;
                    }
                    runs += 1;
                    // As the clock merges a sync's samples into its window.
                    let old = select(&first, 100).unwrap();
                    let window = if burst_proves_step(&old, &second, &Drift::fixed(100)) {
                        second
                    } else {
                        [first, second].concat()
                    };
                    if let Ok(sel) = select(&window, 100) {
                        let holds = |c: i64| sel.lo_ms <= c && c <= sel.hi_ms;
                        if !holds(theta + step) && !holds(theta) {
                            wrong.push((up + down, step, phase));
                        }
                    }
                }
            }
        }
        assert!(runs > 500, "{runs}");
        assert!(wrong.is_empty(), "{} of {runs}: {wrong:?}", wrong.len());
    }

    #[test]
    fn only_confirmation_replies_back_an_edge() {
        // The same replies, once as narrowing replies, once as answers to
        // confirmation probes: only the latter complete the burst.
        let theta = T0 + 437;
        let (taken, verdict) = run(&|_| theta, 1, 1, 100_000);
        verdict.unwrap();
        let mut narrowing = DateBurst::new();
        for s in &taken {
            narrowing.record(*s, DateProbePurpose::Narrow);
        }
        let target = burst_target_uncertainty_ms(&SyncPolicy::default(), false, Some(2));
        assert!(!narrowing.complete(100, Some(2), target));
        let p = narrowing.next_probe(100, Some(2), target, 200_000);
        assert_ne!(p.purpose, DateProbePurpose::Narrow);
    }
}
