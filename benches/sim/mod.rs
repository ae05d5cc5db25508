//! Simulation pieces shared by the `accuracy` and `requests_per_day`
//! benches: a seeded random number generator, the delay distributions of the
//! simulated networks, and the device clock error model.
//!
//! Everything is deterministic given the seed. Times are continuous `f64`
//! milliseconds; only what a real client would *read* is truncated (the boot
//! clock to whole ms, the MSC4094 body to whole ms, `Date` to whole seconds).

// Each bench uses a part of this module.
#![allow(dead_code)]

/// Base server time of the simulations (2025-06-15T16:26:40Z): the sanity
/// window of `Sample` needs a real epoch.
pub const SERVER_EPOCH_MS: f64 = 1_750_000_000_000.0;

/// xoshiro256** seeded through splitmix64: small, fast, reproducible.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Pareto (type I) with scale `x_m` and shape `alpha`: `P(X > x) = (x_m/x)^alpha`.
    pub fn pareto(&mut self, x_m: f64, alpha: f64) -> f64 {
        x_m / (1.0 - self.unit()).powf(1.0 / alpha)
    }

    /// Normal (Box–Muller).
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// One-way delay model of a network path, per direction, in ms.
#[derive(Debug, Clone, Copy)]
pub enum Delay {
    /// Uniform in [lo, hi].
    Uniform { lo: f64, hi: f64 },
    /// `base` + exponential jitter with mean `jitter_mean`.
    BaseExp { base: f64, jitter_mean: f64 },
    /// Pareto with scale `x_m`, shape `alpha`, capped at `cap` (the request
    /// timeout: a longer exchange would fail, not produce a sample).
    Pareto { x_m: f64, alpha: f64, cap: f64 },
}

impl Delay {
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        match *self {
            Delay::Uniform { lo, hi } => rng.uniform(lo, hi),
            Delay::BaseExp { base, jitter_mean } => base + rng.exp(jitter_mean),
            Delay::Pareto { x_m, alpha, cap } => rng.pareto(x_m, alpha).min(cap),
        }
    }
}

/// A network path: uplink and downlink delays, and a per-packet chance of a
/// large extra delay (a retransmission, a radio waking up).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub up: Delay,
    pub down: Delay,
    pub spike_p: f64,
    pub spike_ms: f64,
}

impl Network {
    /// (uplink, downlink) of one exchange.
    pub fn draw(&self, rng: &mut Rng) -> (f64, f64) {
        let mut up = self.up.draw(rng);
        let mut down = self.down.draw(rng);
        if rng.chance(self.spike_p) {
            up += self.spike_ms;
        }
        if rng.chance(self.spike_p) {
            down += self.spike_ms;
        }
        (up, down)
    }

    /// A phone on a mobile network: 30 ms + exponential jitter (mean 20 ms)
    /// each way, 2 % of packets 500 ms late.
    pub fn mobile() -> Network {
        Network {
            up: Delay::BaseExp {
                base: 30.0,
                jitter_mean: 20.0,
            },
            down: Delay::BaseExp {
                base: 30.0,
                jitter_mean: 20.0,
            },
            spike_p: 0.02,
            spike_ms: 500.0,
        }
    }
}

/// Device wall clock minus true time, ms. A mixture loosely calibrated to
/// Lyft's measurement that more than 3 % of Android devices are over a
/// minute off (Kronos announcement):
/// * 70 % synced by NTP/NITZ: normal, σ = 100 ms;
/// * 20 % drifting between syncs: normal, σ = 3 s;
/// * 7 % badly off: normal, σ = 30 s;
/// * 3 % set by hand: ±(1 min … 1 h), uniform.
pub fn device_clock_error_ms(rng: &mut Rng) -> f64 {
    let u = rng.unit();
    if u < 0.70 {
        rng.normal(0.0, 100.0)
    } else if u < 0.90 {
        rng.normal(0.0, 3_000.0)
    } else if u < 0.97 {
        rng.normal(0.0, 30_000.0)
    } else {
        let mag = rng.uniform(60_000.0, 3_600_000.0);
        if rng.chance(0.5) {
            mag
        } else {
            -mag
        }
    }
}

/// `p`-quantile (nearest rank) of sorted values.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The cargo target directory: `CARGO_TARGET_DIR` when set, else `target/`.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"))
}

/// Writes a bench's JSON to `bench/<file>` under the target directory (read
/// by `scripts/plots.sh`); a bench that cannot write it exits with status 1.
pub fn write_json(bench: &str, file: &str, doc: &serde_json::Value) {
    let dir = target_dir().join("bench");
    let path = dir.join(file);
    let written = std::fs::create_dir_all(&dir).and_then(|_| {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(doc).expect("JSON of numbers"),
        )
    });
    match written {
        Ok(()) => println!("\nJSON: {}", path.display()),
        Err(e) => {
            eprintln!("{bench}: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
