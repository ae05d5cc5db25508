//! What the server does: its clock, its network delays and its faults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::rng::Rng;

/// Size of the [`Fault::HugeBody`] reply body: 10 MiB.
pub const HUGE_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Interval between two body bytes of [`Fault::SlowBody`].
pub const SLOW_BODY_BYTE_INTERVAL: Duration = Duration::from_secs(1);

/// [`Fault::RandomTimePerRequest`] moves each reply uniformly within ± this
/// many ms (3 days) of the true server time.
pub const RANDOM_TIME_RANGE_MS: f64 = 3.0 * 86_400_000.0;

/// 1900-01-01T00:00:00Z in Unix ms ([`Fault::Year1900`]).
pub const YEAR_1900_MS: i64 = -2_208_988_800_000;

/// 3000-01-01T00:00:00Z in Unix ms ([`Fault::Year3000`]).
pub const YEAR_3000_MS: i64 = 32_503_680_000_000;

/// The `Age` header value sent by [`Fault::AgeHuge`] (`u64::MAX` seconds:
/// overflows any naive `age * 1000` in i64 or u64).
pub const AGE_HUGE_HEADER: &str = "18446744073709551615";

/// The `Date` header value sent by [`Fault::DateMalformed`].
pub const DATE_MALFORMED_HEADER: &str = "Thu, 32 Foo 20x6 25:61:61 XYZ";

/// Default `Location` of a redirect parsed from a name without one: another
/// origin, so a client that follows it would carry the token away.
pub const DEFAULT_REDIRECT_LOCATION: &str = "http://127.0.0.2:9/_matrix/client/v3/get_server_now";

/// One network direction's delay, sampled per request.
///
/// delay = `base_ms` + jitter + spike, where
/// - jitter is **exponential** with mean `jitter_ms`, capped at
///   `10 × jitter_ms` (queueing delay: never negative, long-tailed, bounded so
///   tests can reason about the worst case);
/// - spike is `spike_ms` with probability `spike_probability` (0..=1), else 0.
///
/// Negative or NaN values count as 0. Draws come from the server's seeded RNG
/// ([`HomeserverConfig::seed`]), so a single-threaded request sequence is
/// reproducible.
#[derive(Clone, Debug, PartialEq)]
pub struct Delay {
    pub base_ms: f64,
    pub jitter_ms: f64,
    pub spike_probability: f64,
    pub spike_ms: f64,
}

impl Delay {
    /// No delay at all.
    pub const NONE: Delay = Delay {
        base_ms: 0.0,
        jitter_ms: 0.0,
        spike_probability: 0.0,
        spike_ms: 0.0,
    };

    /// A constant delay.
    pub fn fixed(base_ms: f64) -> Delay {
        Delay {
            base_ms,
            ..Delay::NONE
        }
    }

    /// A base delay plus exponential jitter of mean `jitter_ms`.
    pub fn jittered(base_ms: f64, jitter_ms: f64) -> Delay {
        Delay {
            base_ms,
            jitter_ms,
            ..Delay::NONE
        }
    }

    /// The largest delay this can produce, in ms.
    pub fn max_ms(&self) -> f64 {
        nonneg(self.base_ms)
            + 10.0 * nonneg(self.jitter_ms)
            + if nonneg(self.spike_probability) > 0.0 {
                nonneg(self.spike_ms)
            } else {
                0.0
            }
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> Duration {
        let mut ms = nonneg(self.base_ms);
        let jitter = nonneg(self.jitter_ms);
        if jitter > 0.0 {
            // Inverse CDF of the exponential distribution; 1 - u is in (0, 1].
            let u = rng.next_f64();
            ms += (-jitter * (1.0 - u).ln()).min(10.0 * jitter);
        }
        let p = nonneg(self.spike_probability);
        if p > 0.0 && rng.next_f64() < p {
            ms += nonneg(self.spike_ms);
        }
        Duration::from_secs_f64(ms / 1000.0)
    }
}

impl Default for Delay {
    fn default() -> Self {
        Delay::NONE
    }
}

fn nonneg(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        x
    } else {
        0.0
    }
}

/// A misbehaviour of the server, applied to one reply.
///
/// Faults apply to every route except the test-only `/_test/…` routes. Unless
/// stated otherwise a reply keeps its `Date` header (taken at the same instant
/// as the body time) and the route's status. "Time body" below means the
/// MSC4094 reply `{"server_now": <ms>}`; on other routes (or with MSC4094 off)
/// the time faults only change the `Date` header.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Fault {
    /// A correct reply.
    #[default]
    None,
    /// 256 seeded random bytes (any byte value) as the body, `Content-Type:
    /// application/json`.
    Garbage,
    /// `Content-Length` says the full body but only its first half is sent,
    /// then the connection is closed (FIN).
    Truncated,
    /// A valid JSON body padded to [`HUGE_BODY_BYTES`] (10 MiB), with a correct
    /// `Content-Length`; a client that does not cap bodies would accept it.
    HugeBody,
    /// Headers at once, then the body one byte per [`SLOW_BODY_BYTE_INTERVAL`].
    SlowBody,
    /// Reads the request and never replies; the connection stays open until
    /// the client closes it or the server is dropped.
    NeverAnswer,
    /// Sends part of the status line and headers, then a TCP reset (RST).
    ResetMidHeaders,
    /// Sends the headers and half the body, then a TCP reset (RST).
    ResetMidBody,
    /// The time body with an invalid UTF-8 sequence (`\xff\xfe`) in a string.
    InvalidUtf8,
    /// An HTML page as the body, still labelled `application/json`.
    NonJson,
    /// `{"server_now": "<ms>"}`: the right time, as a JSON string.
    TimeAsString,
    /// `{"server_now": <ms>.<fraction>}`: the right time as a JSON float.
    TimeAsFloat,
    /// `{"server_now": -<ms>}`.
    NegativeTime,
    /// The server clock reads 1900-01-01 plus the true time of day, in both the
    /// body and the `Date` header.
    Year1900,
    /// The server clock reads 3000-01-01 plus the true time of day, in both the
    /// body and the `Date` header.
    Year3000,
    /// `Date:` [`DATE_MALFORMED_HEADER`]; the body is correct.
    DateMalformed,
    /// No `Date` header; the body is correct.
    DateMissing,
    /// A correct reply plus `Age:` [`AGE_HUGE_HEADER`].
    AgeHuge,
    /// This status with a Matrix error body: 401 `M_UNKNOWN_TOKEN`, 403
    /// `M_FORBIDDEN`, 404/405 `M_UNRECOGNIZED` (what Synapse answers for an
    /// unknown endpoint / method), 429 `M_LIMIT_EXCEEDED`, anything else
    /// `M_UNKNOWN`.
    Status(u16),
    /// Any status with any Matrix error code.
    MatrixError {
        status: u16,
        errcode: String,
        error: String,
    },
    /// 429 `M_LIMIT_EXCEEDED`, with `"retry_after_ms"` in the body and/or a
    /// `Retry-After: <s>` header when given.
    RateLimited {
        retry_after_ms: Option<u64>,
        retry_after_header_s: Option<u64>,
    },
    /// A redirect (301, 302, 307, 308 …) to `location`, empty body.
    Redirect { status: u16, location: String },
    /// The correct JSON body labelled `Content-Type: text/html`.
    WrongContentType,
    /// Correct replies, but the server clock steps by `step_ms` once
    /// `requests` requests have been answered since this fault was set (the
    /// first `requests` requests see the old clock, the later ones the new
    /// one). The step is permanent: [`crate::TestHomeserver::true_server_ms`]
    /// and [`crate::TestHomeserver::skew_ms`] include it.
    StepAfter { requests: u32, step_ms: i64 },
    /// Each reply shows the true server time moved uniformly within
    /// ± [`RANDOM_TIME_RANGE_MS`] (3 days), in body and `Date` alike.
    RandomTimePerRequest,
    /// With `probability`, the reply is a stale cached copy: body time and
    /// `Date` from `age_s` seconds ago plus `Age: <age_s>` (as a real cache
    /// would send it); otherwise a correct reply.
    StaleCache { probability: f64, age_s: u64 },
    /// This reply comes from a clock `offset_ms` off the server's: its body
    /// time and `Date` header, or with `date_only` only its `Date` header (a
    /// proxy or a lying backend). Script it for one reply at a chosen index.
    ClockOffset { offset_ms: i64, date_only: bool },
    /// Two backends behind a load balancer: the server's clock and one
    /// `offset_ms` off it (body and `Date`, or with `date_only` only `Date`),
    /// answering in `order`. [`crate::TestHomeserver::true_server_ms`] is
    /// the first backend's clock.
    TwoBackends {
        offset_ms: i64,
        date_only: bool,
        order: BackendOrder,
    },
    /// A cached copy stored `stored_ms` ago (body and `Date` that old), sent
    /// with `Age: <age_s>`; `Age: 0` with up to 999 ms of storage is what a
    /// real cache sends within the first second.
    Cached { stored_ms: u64, age_s: u64 },
}

/// Which backend answers each reply under [`Fault::TwoBackends`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendOrder {
    /// In turn, the server's clock first.
    Alternate,
    /// In turn, the other clock first.
    AlternateOffsetFirst,
    /// At random, half and half (the server's seeded RNG).
    Random,
}

impl BackendOrder {
    fn name(self) -> &'static str {
        match self {
            BackendOrder::Alternate => "alternate",
            BackendOrder::AlternateOffsetFirst => "alternate-offset-first",
            BackendOrder::Random => "random",
        }
    }
}

impl Fault {
    /// For the faults that misstate the server's clock by a fixed amount
    /// ([`Fault::ClockOffset`], [`Fault::TwoBackends`], [`Fault::Cached`]):
    /// how far the reply's body time and its `Date` header are off the true
    /// server clock, ms. `reply_index` counts the replies since the fault
    /// was set, from 0; `random_unit` is a uniform draw in [0, 1) (used by
    /// [`BackendOrder::Random`]). `None` for every other fault. Simulations
    /// call this too, so they misbehave exactly as the server does.
    ///
    /// ```
    /// use mxclock_test_homeserver::{BackendOrder, Fault};
    /// let f = Fault::TwoBackends { offset_ms: 300, date_only: true, order: BackendOrder::Alternate };
    /// assert_eq!(f.clock_offsets_ms(0, 0.9), Some((0, 0)));
    /// assert_eq!(f.clock_offsets_ms(1, 0.9), Some((0, 300)));
    /// ```
    pub fn clock_offsets_ms(&self, reply_index: u64, random_unit: f64) -> Option<(i64, i64)> {
        let shifted = |offset_ms: i64, date_only: bool| {
            if date_only {
                (0, offset_ms)
            } else {
                (offset_ms, offset_ms)
            }
        };
        match *self {
            Fault::ClockOffset {
                offset_ms,
                date_only,
            } => Some(shifted(offset_ms, date_only)),
            Fault::TwoBackends {
                offset_ms,
                date_only,
                order,
            } => {
                let second = match order {
                    BackendOrder::Alternate => reply_index % 2 == 1,
                    BackendOrder::AlternateOffsetFirst => reply_index % 2 == 0,
                    BackendOrder::Random => random_unit < 0.5,
                };
                Some(if second {
                    shifted(offset_ms, date_only)
                } else {
                    (0, 0)
                })
            }
            Fault::Cached { stored_ms, .. } => {
                let ago = -i64::try_from(stored_ms).unwrap_or(i64::MAX);
                Some((ago, ago))
            }
            _ => None,
        }
    }
}

impl Fault {
    /// One instance of every kind of fault (except `None`), with typical
    /// parameters: a catalogue for fault-matrix tests.
    pub fn catalogue() -> Vec<Fault> {
        vec![
            Fault::Garbage,
            Fault::Truncated,
            Fault::HugeBody,
            Fault::SlowBody,
            Fault::NeverAnswer,
            Fault::ResetMidHeaders,
            Fault::ResetMidBody,
            Fault::InvalidUtf8,
            Fault::NonJson,
            Fault::TimeAsString,
            Fault::TimeAsFloat,
            Fault::NegativeTime,
            Fault::Year1900,
            Fault::Year3000,
            Fault::DateMalformed,
            Fault::DateMissing,
            Fault::AgeHuge,
            Fault::Status(404),
            Fault::Status(405),
            Fault::Status(401),
            Fault::Status(403),
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::RateLimited {
                retry_after_ms: Some(1500),
                retry_after_header_s: None,
            },
            Fault::RateLimited {
                retry_after_ms: None,
                retry_after_header_s: Some(2),
            },
            Fault::RateLimited {
                retry_after_ms: None,
                retry_after_header_s: None,
            },
            Fault::Redirect {
                status: 301,
                location: DEFAULT_REDIRECT_LOCATION.to_owned(),
            },
            Fault::Redirect {
                status: 302,
                location: DEFAULT_REDIRECT_LOCATION.to_owned(),
            },
            Fault::WrongContentType,
            Fault::StepAfter {
                requests: 1,
                step_ms: 3_600_000,
            },
            Fault::RandomTimePerRequest,
            Fault::StaleCache {
                probability: 1.0,
                age_s: 300,
            },
            Fault::ClockOffset {
                offset_ms: 300,
                date_only: false,
            },
            Fault::ClockOffset {
                offset_ms: 1_000,
                date_only: true,
            },
            Fault::TwoBackends {
                offset_ms: 300,
                date_only: false,
                order: BackendOrder::Alternate,
            },
            Fault::TwoBackends {
                offset_ms: 1_000,
                date_only: true,
                order: BackendOrder::Random,
            },
            Fault::Cached {
                stored_ms: 900,
                age_s: 0,
            },
        ]
    }
}

/// Names, as used by `--fault` / `--script` of the binary. [`Display`]
/// produces them and [`FromStr`] parses them back:
///
/// `none garbage truncated huge-body slow-body never-answer reset-mid-headers
/// reset-mid-body invalid-utf8 non-json time-as-string time-as-float
/// negative-time year-1900 year-3000 date-malformed date-missing age-huge
/// wrong-content-type random-time`, and with parameters
/// `status:CODE`, `matrix-error:STATUS:ERRCODE[:MESSAGE]`,
/// `rate-limited[:retry-after-ms=MS][:retry-after-s=S]`,
/// `redirect:STATUS[:LOCATION]`, `step-after:REQUESTS:STEP_MS`,
/// `stale-cache:PROBABILITY:AGE_S`, `clock-offset:MS[:date-only]`,
/// `two-backends:MS:alternate|alternate-offset-first|random[:date-only]`,
/// `cached:STORED_MS:AGE_S`.
///
/// ```
/// use mxclock_test_homeserver::Fault;
/// let f: Fault = "step-after:2:3600000".parse().unwrap();
/// assert_eq!(f, Fault::StepAfter { requests: 2, step_ms: 3_600_000 });
/// assert_eq!(f.to_string(), "step-after:2:3600000");
/// ```
///
/// [`Display`]: std::fmt::Display
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => f.write_str("none"),
            Fault::Garbage => f.write_str("garbage"),
            Fault::Truncated => f.write_str("truncated"),
            Fault::HugeBody => f.write_str("huge-body"),
            Fault::SlowBody => f.write_str("slow-body"),
            Fault::NeverAnswer => f.write_str("never-answer"),
            Fault::ResetMidHeaders => f.write_str("reset-mid-headers"),
            Fault::ResetMidBody => f.write_str("reset-mid-body"),
            Fault::InvalidUtf8 => f.write_str("invalid-utf8"),
            Fault::NonJson => f.write_str("non-json"),
            Fault::TimeAsString => f.write_str("time-as-string"),
            Fault::TimeAsFloat => f.write_str("time-as-float"),
            Fault::NegativeTime => f.write_str("negative-time"),
            Fault::Year1900 => f.write_str("year-1900"),
            Fault::Year3000 => f.write_str("year-3000"),
            Fault::DateMalformed => f.write_str("date-malformed"),
            Fault::DateMissing => f.write_str("date-missing"),
            Fault::AgeHuge => f.write_str("age-huge"),
            Fault::Status(code) => write!(f, "status:{code}"),
            Fault::MatrixError {
                status,
                errcode,
                error,
            } => write!(f, "matrix-error:{status}:{errcode}:{error}"),
            Fault::RateLimited {
                retry_after_ms,
                retry_after_header_s,
            } => {
                f.write_str("rate-limited")?;
                if let Some(ms) = retry_after_ms {
                    write!(f, ":retry-after-ms={ms}")?;
                }
                if let Some(s) = retry_after_header_s {
                    write!(f, ":retry-after-s={s}")?;
                }
                Ok(())
            }
            Fault::Redirect { status, location } => write!(f, "redirect:{status}:{location}"),
            Fault::WrongContentType => f.write_str("wrong-content-type"),
            Fault::StepAfter { requests, step_ms } => write!(f, "step-after:{requests}:{step_ms}"),
            Fault::RandomTimePerRequest => f.write_str("random-time"),
            Fault::StaleCache { probability, age_s } => {
                write!(f, "stale-cache:{probability}:{age_s}")
            }
            Fault::ClockOffset {
                offset_ms,
                date_only,
            } => {
                write!(f, "clock-offset:{offset_ms}")?;
                if *date_only {
                    f.write_str(":date-only")?;
                }
                Ok(())
            }
            Fault::TwoBackends {
                offset_ms,
                date_only,
                order,
            } => {
                write!(f, "two-backends:{offset_ms}:{}", order.name())?;
                if *date_only {
                    f.write_str(":date-only")?;
                }
                Ok(())
            }
            Fault::Cached { stored_ms, age_s } => write!(f, "cached:{stored_ms}:{age_s}"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Fault, String> {
        let (head, rest) = match s.split_once(':') {
            Some((h, r)) => (h, Some(r)),
            None => (s, None),
        };
        let bad = || format!("invalid fault {s:?}");
        let no_args = |fault: Fault| match rest {
            None => Ok(fault),
            Some(_) => Err(format!("fault {head:?} takes no parameters")),
        };
        match head {
            "none" => no_args(Fault::None),
            "garbage" => no_args(Fault::Garbage),
            "truncated" => no_args(Fault::Truncated),
            "huge-body" => no_args(Fault::HugeBody),
            "slow-body" => no_args(Fault::SlowBody),
            "never-answer" => no_args(Fault::NeverAnswer),
            "reset-mid-headers" => no_args(Fault::ResetMidHeaders),
            "reset-mid-body" => no_args(Fault::ResetMidBody),
            "invalid-utf8" => no_args(Fault::InvalidUtf8),
            "non-json" => no_args(Fault::NonJson),
            "time-as-string" => no_args(Fault::TimeAsString),
            "time-as-float" => no_args(Fault::TimeAsFloat),
            "negative-time" => no_args(Fault::NegativeTime),
            "year-1900" => no_args(Fault::Year1900),
            "year-3000" => no_args(Fault::Year3000),
            "date-malformed" => no_args(Fault::DateMalformed),
            "date-missing" => no_args(Fault::DateMissing),
            "age-huge" => no_args(Fault::AgeHuge),
            "wrong-content-type" => no_args(Fault::WrongContentType),
            "random-time" => no_args(Fault::RandomTimePerRequest),
            "status" => {
                let code = rest.ok_or_else(bad)?.parse().map_err(|_| bad())?;
                Ok(Fault::Status(valid_status(code).ok_or_else(bad)?))
            }
            "matrix-error" => {
                let mut parts = rest.ok_or_else(bad)?.splitn(3, ':');
                let status = parts.next().and_then(|p| p.parse().ok());
                let status = status.and_then(valid_status).ok_or_else(bad)?;
                let errcode = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?;
                let error = parts.next().unwrap_or("Test error");
                Ok(Fault::MatrixError {
                    status,
                    errcode: errcode.to_owned(),
                    error: error.to_owned(),
                })
            }
            "rate-limited" => {
                let mut retry_after_ms = None;
                let mut retry_after_header_s = None;
                for part in rest.into_iter().flat_map(|r| r.split(':')) {
                    match part.split_once('=') {
                        Some(("retry-after-ms", v)) => {
                            retry_after_ms = Some(v.parse().map_err(|_| bad())?)
                        }
                        Some(("retry-after-s", v)) => {
                            retry_after_header_s = Some(v.parse().map_err(|_| bad())?)
                        }
                        _ => return Err(bad()),
                    }
                }
                Ok(Fault::RateLimited {
                    retry_after_ms,
                    retry_after_header_s,
                })
            }
            "redirect" => {
                let rest = rest.ok_or_else(bad)?;
                let (status, location) = match rest.split_once(':') {
                    Some((s, l)) => (s, l),
                    None => (rest, DEFAULT_REDIRECT_LOCATION),
                };
                let status = status.parse().ok().and_then(valid_status);
                let status = status.filter(|s| (300..400).contains(s)).ok_or_else(bad)?;
                Ok(Fault::Redirect {
                    status,
                    location: location.to_owned(),
                })
            }
            "step-after" => {
                let (n, step) = rest.and_then(|r| r.split_once(':')).ok_or_else(bad)?;
                Ok(Fault::StepAfter {
                    requests: n.parse().map_err(|_| bad())?,
                    step_ms: step.parse().map_err(|_| bad())?,
                })
            }
            "clock-offset" => {
                let mut parts = rest.ok_or_else(bad)?.split(':');
                let offset_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
                let date_only = match parts.next() {
                    None => false,
                    Some("date-only") => true,
                    Some(_) => return Err(bad()),
                };
                if parts.next().is_some() {
                    return Err(bad());
                }
                Ok(Fault::ClockOffset {
                    offset_ms,
                    date_only,
                })
            }
            "two-backends" => {
                let mut parts = rest.ok_or_else(bad)?.split(':');
                let offset_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
                let order = match parts.next() {
                    Some("alternate") => BackendOrder::Alternate,
                    Some("alternate-offset-first") => BackendOrder::AlternateOffsetFirst,
                    Some("random") => BackendOrder::Random,
                    _ => return Err(bad()),
                };
                let date_only = match parts.next() {
                    None => false,
                    Some("date-only") => true,
                    Some(_) => return Err(bad()),
                };
                if parts.next().is_some() {
                    return Err(bad());
                }
                Ok(Fault::TwoBackends {
                    offset_ms,
                    date_only,
                    order,
                })
            }
            "cached" => {
                let (stored, age) = rest.and_then(|r| r.split_once(':')).ok_or_else(bad)?;
                Ok(Fault::Cached {
                    stored_ms: stored.parse().map_err(|_| bad())?,
                    age_s: age.parse().map_err(|_| bad())?,
                })
            }
            "stale-cache" => {
                let (p, age) = rest.and_then(|r| r.split_once(':')).ok_or_else(bad)?;
                let probability: f64 = p.parse().map_err(|_| bad())?;
                if !(0.0..=1.0).contains(&probability) {
                    return Err(bad());
                }
                Ok(Fault::StaleCache {
                    probability,
                    age_s: age.parse().map_err(|_| bad())?,
                })
            }
            _ => Err(format!("unknown fault {s:?}")),
        }
    }
}

fn valid_status(code: u16) -> Option<u16> {
    (100..=999).contains(&code).then_some(code)
}

/// Everything about how the server behaves. `Default`: no skew, no delay,
/// MSC4094 on, no fault, seed 1.
///
/// ```
/// use mxclock_test_homeserver::{Delay, HomeserverConfig};
/// let config = HomeserverConfig {
///     skew_ms: 37_250.0,
///     uplink: Delay::fixed(5.0),
///     downlink: Delay::jittered(20.0, 4.0),
///     ..HomeserverConfig::default()
/// };
/// assert!(config.msc4094);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HomeserverConfig {
    /// Server time = this machine's `SystemTime` + `skew_ms` (fractional ms).
    pub skew_ms: f64,
    /// Client → server delay: slept after the request has been read and
    /// before the server clock is read.
    pub uplink: Delay,
    /// Server → client delay: slept after the server clock was read and
    /// before the reply is written.
    pub downlink: Delay,
    /// Serve `GET /_matrix/client/v3/get_server_now` (and the unstable
    /// `/_matrix/client/unstable/org.matrix.msc4094/get_server_now`). When
    /// off, these answer 404 `M_UNRECOGNIZED` (with a `Date` header), as
    /// Synapse does for any unknown endpoint.
    pub msc4094: bool,
    /// The fault applied to every request once the script (see
    /// [`crate::TestHomeserver::script_faults`]) is empty.
    pub fault: Fault,
    /// Seed of the RNG behind jitter, spikes, garbage bodies, random times and
    /// stale-cache draws.
    pub seed: u64,
}

impl Default for HomeserverConfig {
    fn default() -> Self {
        HomeserverConfig {
            skew_ms: 0.0,
            uplink: Delay::NONE,
            downlink: Delay::NONE,
            msc4094: true,
            fault: Fault::None,
            seed: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_fault_name_round_trips() {
        for fault in Fault::catalogue().into_iter().chain([
            Fault::None,
            Fault::MatrixError {
                status: 400,
                errcode: "M_BAD_JSON".into(),
                error: "with: colons".into(),
            },
            Fault::RateLimited {
                retry_after_ms: Some(7),
                retry_after_header_s: Some(3),
            },
            Fault::StaleCache {
                probability: 0.25,
                age_s: 60,
            },
            Fault::StepAfter {
                requests: 0,
                step_ms: -3_600_000,
            },
        ]) {
            let name = fault.to_string();
            assert_eq!(name.parse::<Fault>(), Ok(fault), "{name}");
        }
    }

    #[test]
    fn bad_fault_names_are_errors() {
        for name in [
            "",
            "nope",
            "status",
            "status:abc",
            "status:42",
            "garbage:1",
            "redirect:200",
            "rate-limited:foo=1",
            "step-after:1",
            "stale-cache:2:5",
            "matrix-error:400",
            "clock-offset",
            "clock-offset:x",
            "clock-offset:5:date",
            "two-backends:300",
            "two-backends:300:sideways",
            "two-backends:300:random:date-only:x",
            "cached:5",
        ] {
            assert!(name.parse::<Fault>().is_err(), "{name:?} parsed");
        }
        assert_eq!(
            "redirect:302".parse::<Fault>(),
            Ok(Fault::Redirect {
                status: 302,
                location: DEFAULT_REDIRECT_LOCATION.into()
            })
        );
    }

    #[test]
    fn delay_stays_within_documented_bounds() {
        let mut rng = Rng::new(7);
        let d = Delay {
            base_ms: 10.0,
            jitter_ms: 5.0,
            spike_probability: 0.1,
            spike_ms: 200.0,
        };
        let mut spikes = 0;
        for _ in 0..10_000 {
            let ms = d.sample(&mut rng).as_secs_f64() * 1000.0;
            assert!(ms >= 10.0 - 1e-6 && ms <= d.max_ms() + 1e-6, "{ms}");
            if ms >= 210.0 {
                spikes += 1;
            }
        }
        // 10 % of 10 000 draws; far outside binomial noise if spikes are broken.
        assert!((700..1300).contains(&spikes), "{spikes} spikes");
        let none = Delay {
            base_ms: -5.0,
            jitter_ms: f64::NAN,
            spike_probability: 1.0,
            spike_ms: -1.0,
        };
        assert_eq!(none.sample(&mut rng), Duration::ZERO);
    }

    #[test]
    fn jitter_mean_is_about_jitter_ms() {
        let mut rng = Rng::new(99);
        let d = Delay::jittered(0.0, 20.0);
        let n = 20_000;
        let mean: f64 = (0..n)
            .map(|_| d.sample(&mut rng).as_secs_f64() * 1000.0)
            .sum::<f64>()
            / n as f64;
        // Exponential(mean 20) truncated at 200 has mean ≈ 20; the standard
        // error over 20 000 draws is ≈ 0.14 ms.
        assert!((19.0..21.0).contains(&mean), "{mean}");
    }
}
