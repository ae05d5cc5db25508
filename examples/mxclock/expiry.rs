//! `mxclock expiry --server-now-ms N [--uncertainty-ms U] [--received-server-ms R] FILE.json [--json]`
//!
//! Evaluates one event, or a JSON array of events, at the given server time
//! with no network. `FILE` may be `-` for stdin. Every event counts as
//! received at server time R (default: N), which feeds the rules that count
//! from receipt (the MSC4354 `unsigned` sticky ttl and start clamp, the
//! verification prompt's two minutes, the `m.call.invite` age). With `--json` it prints one
//! object per line per event:
//! `{"state":"live"|"expired"|"uncertain","is_expired":…,"deadline_ms":…,"remaining_ms":…,"rule":…}`
//! (plus `event_id`, `ended`, `should_ring`, `ignore` where they apply) or
//! `{"error":"…"}`; otherwise a table. Exit status: 0 if every event was
//! evaluated, 1 if the input or an event could not be, 2 for bad arguments.
//! Messages go to stderr. Everything but reading the file is in plain
//! functions so `tests/sans_io/cli_expiry.rs` can test it.

use std::io::{Read, Write};

use mxclock::{evaluate_event_json, evaluate_events_json, EventExpiry, ServerNow};

pub const USAGE: &str = "\
usage: mxclock expiry --server-now-ms N [--uncertainty-ms U] [--received-server-ms R]
                      FILE.json [--json]

Evaluates one Matrix event, or a JSON array of events, at server time N
(Unix ms) known to within ±U ms (default 0). FILE may be - for stdin.
  --received-server-ms R   every event was received at server time R
                           (default: N, received just now)
  --json                   one JSON object per event and line instead of a table
";

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub server_now_ms: i64,
    pub uncertainty_ms: i64,
    /// When the events were received, on the server clock (`None`: now).
    pub received_server_ms: Option<i64>,
    pub file: String,
    pub json: bool,
}

/// What to do after parsing: run, or print the help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    Help,
}

fn number(flag: &str, value: Option<&str>) -> Result<i64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse::<i64>()
        .map_err(|_| format!("{flag}: `{value}` is not a whole number of milliseconds"))
}

/// Hand-parsed arguments (after the `expiry` word). Accepts `--flag value`
/// and `--flag=value`, in any order.
pub fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut server_now_ms = None;
    let mut uncertainty_ms = 0;
    let mut received_server_ms = None;
    let mut file = None;
    let mut json = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg.as_str(), None),
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--json" if inline.is_none() => json = true,
            "--server-now-ms" => {
                let v = inline.or_else(|| it.next().map(String::as_str));
                server_now_ms = Some(number(flag, v)?);
            }
            "--received-server-ms" => {
                let v = inline.or_else(|| it.next().map(String::as_str));
                received_server_ms = Some(number(flag, v)?);
            }
            "--uncertainty-ms" => {
                let v = inline.or_else(|| it.next().map(String::as_str));
                uncertainty_ms = number(flag, v)?;
                if uncertainty_ms < 0 {
                    return Err(format!("{flag} must not be negative"));
                }
            }
            f if f.starts_with("--") => return Err(format!("unknown option `{arg}`")),
            _ => {
                if let Some(first) = &file {
                    return Err(format!("one FILE only (got `{first}` and `{arg}`)"));
                }
                file = Some(arg.clone());
            }
        }
    }
    let server_now_ms = server_now_ms.ok_or("--server-now-ms is required")?;
    let file = file.ok_or("FILE is required")?;
    Ok(Parsed::Run(Args {
        server_now_ms,
        uncertainty_ms,
        received_server_ms,
        file,
        json,
    }))
}

/// One evaluated event (or why it could not be), with its id and type if
/// known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub outcome: Result<EventExpiry, String>,
}

/// An event's string `type`, for the table.
fn type_of(event: &serde_json::Value) -> Option<String> {
    event
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
}

/// Evaluates the text of a file: one event object, or an array of events
/// (through the batch call, with one reading for all), each received at
/// boot time `received_boot_ms` on `now`'s boot clock. Err if the text is
/// not JSON or is neither an object nor an array.
pub fn evaluate_text(
    text: &str,
    now: &ServerNow,
    received_boot_ms: Option<i64>,
) -> Result<Vec<Row>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if value.is_array() {
        let outcomes =
            evaluate_events_json(text, now, received_boot_ms).map_err(|e| e.to_string())?;
        let events = value.as_array().map_or(&[][..], Vec::as_slice);
        Ok(outcomes
            .into_iter()
            .zip(events)
            .map(|(o, event)| Row {
                event_id: o.event_id,
                event_type: type_of(event),
                outcome: match (o.result, o.error) {
                    (Some(r), _) => Ok(r),
                    (None, e) => Err(e.map(|e| e.message).unwrap_or_default()),
                },
            })
            .collect())
    } else {
        let event_id = value
            .get("event_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let outcome = evaluate_event_json(text, now, received_boot_ms).map_err(|e| e.to_string());
        if let (Err(e), false) = (&outcome, value.is_object()) {
            return Err(e.clone());
        }
        Ok(vec![Row {
            event_id,
            event_type: type_of(&value),
            outcome,
        }])
    }
}

fn quote(s: &str) -> String {
    // serde_json escapes control characters and quotes correctly.
    serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".to_owned())
}

/// One `--json` output line (without the newline).
pub fn json_line(row: &Row) -> String {
    match &row.outcome {
        Err(e) => format!("{{\"error\":{}}}", quote(e)),
        Ok(r) => {
            let e = &r.expiry;
            let mut s = format!(
                "{{\"state\":\"{}\",\"is_expired\":{},\"deadline_ms\":{},\"remaining_ms\":{},\"rule\":\"{}\"",
                e.state.as_str(),
                e.is_expired,
                e.deadline_ms,
                e.remaining_ms,
                r.rule.as_str()
            );
            if let Some(id) = &row.event_id {
                s.push_str(&format!(",\"event_id\":{}", quote(id)));
            }
            if r.ended {
                s.push_str(",\"ended\":true");
            }
            if let Some(ring) = r.should_ring {
                s.push_str(&format!(",\"should_ring\":{ring}"));
            }
            if r.verification_validity.is_some() {
                s.push_str(&format!(",\"ignore\":{}", r.ignore));
            }
            s.push('}');
            s
        }
    }
}

/// `2023-11-14T22:13:20.000Z` for a Unix ms time (proleptic Gregorian,
/// UTC); the raw number if the year falls outside 0000–9999.
pub fn iso_utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i128 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return format!("{ms} ms");
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// A signed duration for people: `+1h02m03.004s`, `-45.000s`, `0s`.
pub fn human_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let sign = if ms > 0 { '+' } else { '-' };
    let a = ms.unsigned_abs();
    let (h, m, s, milli) = (a / 3_600_000, a / 60_000 % 60, a / 1000 % 60, a % 1000);
    if h > 0 {
        format!("{sign}{h}h{m:02}m{s:02}.{milli:03}s")
    } else if m > 0 {
        format!("{sign}{m}m{s:02}.{milli:03}s")
    } else {
        format!("{sign}{s}.{milli:03}s")
    }
}

/// The human-readable table.
pub fn table(rows: &[Row], now: &ServerNow) -> String {
    let mut out = format!(
        "server time {} (±{} ms)\n",
        iso_utc(now.server_now_ms),
        now.uncertainty()
    );
    out.push_str(&format!(
        "{:>3}  {:<18} {:<38} {:<31} {:<9} {:<7} {:<24} {:>15}  {}\n",
        "#", "event_id", "type", "rule", "state", "expired", "deadline (UTC)", "remaining", "notes"
    ));
    for (i, row) in rows.iter().enumerate() {
        let id = row.event_id.as_deref().unwrap_or("-");
        match &row.outcome {
            Err(e) => out.push_str(&format!("{i:>3}  {id:<18} error: {e}\n")),
            Ok(r) => {
                let mut notes = Vec::new();
                if r.ended {
                    notes.push("ended (left/stopped)".to_owned());
                }
                match r.should_ring {
                    Some(true) => notes.push("ring".to_owned()),
                    Some(false) => notes.push("do not ring".to_owned()),
                    None => {}
                }
                if let Some(v) = r.verification_validity {
                    if r.ignore {
                        notes.push(format!("ignore ({v:?})"));
                    }
                }
                let line = format!(
                    "{i:>3}  {id:<18} {:<38} {:<31} {:<9} {:<7} {:<24} {:>15}  {}",
                    row.event_type.as_deref().unwrap_or("-"),
                    r.rule.as_str(),
                    r.expiry.state.as_str(),
                    if r.expiry.is_expired { "yes" } else { "no" },
                    iso_utc(r.expiry.deadline_ms),
                    human_ms(r.expiry.remaining_ms),
                    notes.join(", ")
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
    }
    out
}

/// Runs the subcommand with its input already read; returns the exit status.
pub fn run_with_input(args: &Args, text: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    // The CLI's boot clock reads 0 at server time N, so receipt at server
    // time R is boot time R − N.
    let now = ServerNow::new(args.server_now_ms, args.uncertainty_ms, 0);
    let received_boot_ms = args
        .received_server_ms
        .map_or(0, |r| r.saturating_sub(args.server_now_ms));
    let rows = match evaluate_text(text, &now, Some(received_boot_ms)) {
        Ok(rows) => rows,
        Err(e) => {
            let _ = writeln!(err, "mxclock expiry: {}: {e}", args.file);
            return 1;
        }
    };
    let written = if args.json {
        rows.iter()
            .try_for_each(|row| writeln!(out, "{}", json_line(row)))
    } else {
        write!(out, "{}", table(&rows, &now))
    };
    if let Err(e) = written {
        let _ = writeln!(err, "mxclock expiry: cannot write output: {e}");
        return 1;
    }
    let failed = rows.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 {
        let _ = writeln!(
            err,
            "mxclock expiry: {failed} of {} event(s) could not be evaluated",
            rows.len()
        );
        return 1;
    }
    0
}

/// Parses the arguments, reads the file (or stdin) and runs.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let args = match parse_args(args) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            let _ = write!(out, "{USAGE}");
            return 0;
        }
        Err(e) => {
            let _ = write!(err, "mxclock expiry: {e}\n\n{USAGE}");
            return 2;
        }
    };
    let text = if args.file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    } else {
        std::fs::read_to_string(&args.file)
    };
    match text {
        Ok(text) => run_with_input(&args, &text, out, err),
        Err(e) => {
            let _ = writeln!(err, "mxclock expiry: cannot read {}: {e}", args.file);
            1
        }
    }
}

/// Entry point from `main.rs`.
pub fn main(args: &[String]) -> u8 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run(args, &mut stdout.lock(), &mut stderr.lock())
}
