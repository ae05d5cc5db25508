//! `mxclock sync <homeserver-url> [--token T] [--json]`: one sync against a
//! real homeserver.

use mxclock::{ClockConfig, ServerClock};

const USAGE: &str =
    "usage: mxclock sync <homeserver-url> [--token T] [--timeout-ms N] [--insecure-http] [--json]";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut url = None;
    let mut token = None;
    let mut json = false;
    let mut insecure = false;
    let mut timeout_ms = 10_000u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--token" => {
                token = Some(
                    it.next()
                        .ok_or(format!("--token needs a value\n{USAGE}"))?
                        .clone(),
                )
            }
            "--timeout-ms" => {
                timeout_ms = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("--timeout-ms needs a number\n{USAGE}"))?
            }
            "--json" => json = true,
            "--insecure-http" => insecure = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}\n{USAGE}")),
            s if url.is_none() => url = Some(s.to_owned()),
            s => return Err(format!("unexpected argument {s:?}\n{USAGE}")),
        }
    }
    let url = url.ok_or_else(|| format!("missing homeserver URL\n{USAGE}"))?;
    let mut config = ClockConfig::new(&url);
    config.access_token = token;
    config.allow_insecure_http = insecure;
    config.request_timeout_ms = timeout_ms;
    let clock = ServerClock::new(config).map_err(|e| e.to_string())?;
    let report = clock.sync().map_err(|e| format!("sync failed: {e}"))?;
    let e = report.estimate;
    if json {
        println!(
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
        );
    } else {
        println!("homeserver     {url}");
        println!("source         {}", e.source.as_str());
        println!(
            "offset         {:+} ms (server minus this device's clock)",
            e.offset_ms
        );
        println!("uncertainty    ±{} ms", e.uncertainty_ms);
        println!("server now     {} ms since the epoch", e.server_now_ms);
        println!(
            "requests       {} ({} samples used)",
            report.requests, e.samples
        );
        if let Some(gap) = report.date_disagreement_ms {
            println!("{}", date_disagreement_line(gap));
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
