//! `mxclock`: command-line tool over the library.
//!
//! Dispatches on the first argument; each subcommand lives in its own module
//! with its logic in plain functions (tested from `tests/`).

mod demo;
mod expiry;
mod sync;

use std::process::ExitCode;

const USAGE: &str = "\
usage: mxclock <command> [arguments]

commands:
  demo     sync against an in-process homeserver with a random clock skew
           and a jittery network; print estimate, uncertainty, true error
  sync     sync against a real homeserver: mxclock sync <url> [--json]
           (token from MXCLOCK_ACCESS_TOKEN or --token-file PATH)
  expiry   decide event expiry at a given server time, without network
           (mxclock expiry --help for its arguments)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("demo") => report(demo::run(&args[1..])),
        Some("sync") => report(sync::run(&args[1..])),
        Some("expiry") => expiry::main(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            0
        }
        Some(other) => {
            eprint!("mxclock: unknown command `{other}`\n\n{USAGE}");
            2
        }
        None => {
            eprint!("{USAGE}");
            2
        }
    };
    ExitCode::from(code)
}

/// Errors go to stderr with exit 1 (usage errors say so in the message).
fn report(result: Result<(), String>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mxclock: {e}");
            1
        }
    }
}
