//! `mxclock sync <homeserver-url> [options]`: one sync against a real
//! homeserver.
//!
//! The access token is taken from, in this order:
//! 1. `--token-file PATH` or `--token T`, whichever is given (both is an
//!    error): what the command line says explicitly wins. `--token` works
//!    but warns on stderr: a command line is visible to every local user
//!    (`ps`, `/proc/PID/cmdline`).
//! 2. the `MXCLOCK_ACCESS_TOKEN` environment variable (empty counts as
//!    unset).
//!
//! Without any, the sync runs without a token (the `Date` header still
//! works).

use std::io::{Read, Write};

use mxclock::{ClockConfig, ServerClock};

/// The environment variable the token may come from.
pub const TOKEN_ENV: &str = "MXCLOCK_ACCESS_TOKEN";

/// Largest token file read (64 KiB); the token itself is checked against
/// the library's 4 KiB limit.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

pub const USAGE: &str = "\
usage: mxclock sync <homeserver-url> [--token-file PATH | --token T] [--timeout-ms N]
                    [--insecure-http] [--json]

The access token comes from --token-file PATH, else MXCLOCK_ACCESS_TOKEN;
--token T also works but other local users can read it in `ps`.";

/// Where the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    None,
    Environment,
    File(String),
    CommandLine,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub url: String,
    pub token: Option<String>,
    pub token_source: TokenSource,
    pub json: bool,
    pub insecure_http: bool,
    pub timeout_ms: u64,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Help,
    /// Run, after printing these warnings to stderr.
    Run(Args, Vec<String>),
}

/// `--name value` or `--name=value`.
fn value_of<'a>(
    arg: &'a str,
    name: &str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Option<Result<&'a str, String>> {
    if arg == name {
        return Some(
            rest.next()
                .map(String::as_str)
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}")),
        );
    }
    arg.strip_prefix(name)?.strip_prefix('=').map(Ok)
}

/// Parses `args` (after `sync`); `env_token` is `MXCLOCK_ACCESS_TOKEN`.
/// Reads the token file, if one is named.
pub fn parse_args(args: &[String], env_token: Option<String>) -> Result<Parsed, String> {
    let mut url = None;
    let mut flag_token = None;
    let mut token_file = None;
    let mut json = false;
    let mut insecure_http = false;
    let mut timeout_ms = 10_000u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = value_of(a, "--token", &mut it) {
            flag_token = Some(v?.to_owned());
        } else if let Some(v) = value_of(a, "--token-file", &mut it) {
            token_file = Some(v?.to_owned());
        } else if let Some(v) = value_of(a, "--timeout-ms", &mut it) {
            timeout_ms = v?
                .parse()
                .map_err(|_| format!("--timeout-ms needs a number\n{USAGE}"))?;
        } else {
            match a.as_str() {
                "--json" => json = true,
                "--insecure-http" => insecure_http = true,
                "-h" | "--help" => return Ok(Parsed::Help),
                s if s.starts_with('-') => {
                    // Not echoed whole: it may be a mistyped --token=...
                    let name = s.split('=').next().unwrap_or(s);
                    return Err(format!("unknown option {name:?}\n{USAGE}"));
                }
                s if url.is_none() => url = Some(s.to_owned()),
                _ => return Err(format!("more than one homeserver URL given\n{USAGE}")),
            }
        }
    }
    let url = url.ok_or_else(|| format!("missing homeserver URL\n{USAGE}"))?;
    let mut warnings = Vec::new();
    let (token, token_source) = match (flag_token, token_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "give the token once: --token-file or --token, not both\n{USAGE}"
            ))
        }
        (None, Some(path)) => {
            let (token, warning) = read_token_file(&path)?;
            warnings.extend(warning);
            (Some(token), TokenSource::File(path))
        }
        (Some(token), None) => {
            warnings.push(format!(
                "warning: --token puts the access token on the command line, where other \
                 local users can read it (ps, /proc/PID/cmdline); use {TOKEN_ENV} or \
                 --token-file instead"
            ));
            (Some(token), TokenSource::CommandLine)
        }
        (None, None) => match env_token.filter(|t| !t.is_empty()) {
            Some(token) => (Some(token), TokenSource::Environment),
            None => (None, TokenSource::None),
        },
    };
    Ok(Parsed::Run(
        Args {
            url,
            token,
            token_source,
            json,
            insecure_http,
            timeout_ms,
        },
        warnings,
    ))
}

/// The token in the file at `path`, without surrounding whitespace (a
/// trailing newline is usual), and a warning if others may read the file.
pub fn read_token_file(path: &str) -> Result<(String, Option<String>), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read --token-file {path:?}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read --token-file {path:?}: {e}"))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(format!(
            "--token-file {path:?} is larger than 64 KiB; it should hold the access token only"
        ));
    }
    // The contents are never echoed: they are (or hold) a secret.
    let text =
        String::from_utf8(bytes).map_err(|_| format!("--token-file {path:?} is not UTF-8 text"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("--token-file {path:?} is empty"));
    }
    Ok((token.to_owned(), readable_by_others(path)))
}

#[cfg(unix)]
fn readable_by_others(path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "warning: --token-file {path:?} is readable by other users (mode {mode:04o}); \
             chmod 600 it"
        )
    })
}

#[cfg(not(unix))]
fn readable_by_others(_path: &str) -> Option<String> {
    None
}

/// The subcommand with the process's environment, stdout and stderr.
pub fn run(args: &[String]) -> Result<(), String> {
    run_with(
        args,
        std::env::var(TOKEN_ENV).ok(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
}

/// The subcommand: parses `args`, prints warnings to `err`, syncs, prints
/// the result to `out`. Errors come back for the caller to print.
pub fn run_with(
    args: &[String],
    env_token: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let (args, warnings) = match parse_args(args, env_token)? {
        Parsed::Help => return writeln!(out, "{USAGE}").map_err(io),
        Parsed::Run(args, warnings) => (args, warnings),
    };
    for w in warnings {
        writeln!(err, "mxclock: {w}").map_err(io)?;
    }
    let mut config = ClockConfig::new(&args.url);
    config.access_token = args.token;
    config.allow_insecure_http = args.insecure_http;
    config.request_timeout_ms = args.timeout_ms;
    let clock = ServerClock::new(config).map_err(|e| e.to_string())?;
    let report = clock.sync().map_err(|e| format!("sync failed: {e}"))?;
    let e = report.estimate;
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "offset_ms": e.offset_ms,
                "uncertainty_ms": e.uncertainty_ms,
                "server_now_ms": e.server_now_ms,
                "source": e.source.as_str(),
                "samples": e.samples,
                "requests": report.requests,
                "date_disagreement_ms": report.date_disagreement_ms,
            })
        )
        .map_err(io)?;
    } else {
        let lines = [
            format!("homeserver     {}", args.url),
            format!("source         {}", e.source.as_str()),
            format!(
                "offset         {:+} ms (server minus this device's clock)",
                e.offset_ms
            ),
            format!("uncertainty    ±{} ms", e.uncertainty_ms),
            format!("server now     {} ms since the epoch", e.server_now_ms),
            format!(
                "requests       {} ({} samples used)",
                report.requests, e.samples
            ),
        ];
        for l in lines {
            writeln!(out, "{l}").map_err(io)?;
        }
        if let Some(gap) = report.date_disagreement_ms {
            writeln!(out, "{}", date_disagreement_line(gap)).map_err(io)?;
        }
    }
    Ok(())
}

/// The line for a `Date` header that disagrees with the endpoint's body.
pub fn date_disagreement_line(gap_ms: i64) -> String {
    format!(
        "date header    {gap_ms:+} ms off the endpoint's time: something in front of the \
         homeserver (a reverse proxy, a CDN) sets Date from another clock; the estimate \
         uses the endpoint"
    )
}
