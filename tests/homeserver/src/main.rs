//! `mxclock-test-homeserver`: the loopback test homeserver as a process, for C
//! and Kotlin tests.
//!
//! Prints one JSON line `{"base_url":"http://127.0.0.1:PORT","port":PORT,"skew_ms":X}`
//! on stdout, then serves until stdin reaches EOF (or, with `--ignore-stdin`,
//! until killed). Tests measure true error through the test-only route
//! `GET /_test/true_server_ms`.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use mxclock_test_homeserver::{Delay, Fault, HomeserverConfig, TestHomeserver};

const USAGE: &str = "\
usage: mxclock-test-homeserver [options]
  --skew-ms X             server clock = this machine's clock + X ms (fractional, may be negative)
  --uplink-ms X           client->server delay (ms)
  --downlink-ms X         server->client delay (ms)
  --jitter-ms X           exponential jitter of mean X ms, added in both directions
  --spike-probability P   chance (0..1) of a delay spike per direction per request
  --spike-ms X            size of a spike (ms)
  --no-msc4094            answer the MSC4094 endpoint with 404 M_UNRECOGNIZED
  --fault NAME            fault for every request (e.g. garbage, status:503, step-after:1:3600000)
  --script NAME,NAME,...  faults for the first requests, one each, before --fault applies
  --seed N                RNG seed (jitter, garbage, random times)
  --tls                   serve HTTPS with the built-in self-signed certificate
  --ignore-stdin          serve until killed instead of until stdin reaches EOF
Prints {\"base_url\":...,\"port\":...,\"skew_ms\":...} on one line, then serves.
Test-only routes: GET /_test/true_server_ms, GET /_test/request_count.";

struct Options {
    config: HomeserverConfig,
    script: Vec<Fault>,
    tls: bool,
    ignore_stdin: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut config = HomeserverConfig::default();
    let mut script = Vec::new();
    let (mut tls, mut ignore_stdin) = (false, false);
    let mut jitter_ms = 0.0;
    let (mut spike_probability, mut spike_ms) = (0.0, 0.0);
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{name}: not a number: {v:?}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--skew-ms" => config.skew_ms = number(&flag, value(&flag)?)?,
            "--uplink-ms" => config.uplink.base_ms = number(&flag, value(&flag)?)?,
            "--downlink-ms" => config.downlink.base_ms = number(&flag, value(&flag)?)?,
            "--jitter-ms" => jitter_ms = number(&flag, value(&flag)?)?,
            "--spike-probability" => spike_probability = number(&flag, value(&flag)?)?,
            "--spike-ms" => spike_ms = number(&flag, value(&flag)?)?,
            "--no-msc4094" => config.msc4094 = false,
            "--fault" => config.fault = value(&flag)?.parse()?,
            "--script" => {
                for name in value(&flag)?.split(',').filter(|n| !n.is_empty()) {
                    script.push(name.parse()?);
                }
            }
            "--seed" => {
                let v = value(&flag)?;
                config.seed = v.parse().map_err(|_| format!("--seed: not a u64: {v:?}"))?;
            }
            "--tls" => tls = true,
            "--ignore-stdin" => ignore_stdin = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    for delay in [&mut config.uplink, &mut config.downlink] {
        *delay = Delay {
            jitter_ms,
            spike_probability,
            spike_ms,
            ..delay.clone()
        };
    }
    Ok(Some(Options {
        config,
        script,
        tls,
        ignore_stdin,
    }))
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mxclock-test-homeserver: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = if options.tls {
        start_tls(options.config)
    } else {
        TestHomeserver::start(options.config)
    };
    let server = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mxclock-test-homeserver: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    server.script_faults(options.script);
    let line = serde_json::json!({
        "base_url": server.base_url(),
        "port": server.port(),
        "skew_ms": server.skew_ms(),
    });
    let mut stdout = io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    if options.ignore_stdin {
        loop {
            std::thread::park();
        }
    }
    // Serve until the parent closes our stdin (or dies, which closes it too).
    let _ = io::copy(&mut io::stdin().lock().take(u64::MAX), &mut io::sink());
    drop(server);
    ExitCode::SUCCESS
}

#[cfg(feature = "tls")]
fn start_tls(config: HomeserverConfig) -> io::Result<TestHomeserver> {
    TestHomeserver::start_tls(config)
}

#[cfg(not(feature = "tls"))]
fn start_tls(_config: HomeserverConfig) -> io::Result<TestHomeserver> {
    Err(io::Error::other("built without the \"tls\" feature"))
}
