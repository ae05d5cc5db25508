//! `mxclock`: command-line tool over the library.
//!
//! Dispatches on the first argument; each subcommand lives in its own module
//! with its logic in plain functions (tested from `tests/`).

mod expiry;

use std::process::ExitCode;

const USAGE: &str = "\
usage: mxclock <command> [arguments]

commands:
  expiry   decide event expiry at a given server time, without network
           (mxclock expiry --help for its arguments)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
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
