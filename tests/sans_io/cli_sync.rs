//! The `mxclock sync` CLI's token handling, tested in-process (the example's
//! module is compiled into this test, as for `cli_expiry`): the token comes
//! from `--token-file` or `--token` (which warns) before
//! `MXCLOCK_ACCESS_TOKEN`; it reaches the server and nothing else.

#[allow(dead_code)]
#[path = "../../examples/mxclock/sync.rs"]
mod sync_cli;

use std::io::Write;

#[cfg(feature = "http")]
use sync_cli::run_with;
use sync_cli::{parse_args, Args, Parsed, TokenSource, TOKEN_ENV};

const TOKEN: &str = "syt_Y2xp_CLITOKENSECRET_3kq9";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A file in a directory of its own under the target dir, with `contents`
/// and mode 600 (unix).
fn token_file(name: &str, contents: &[u8]) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-sync-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.to_str().unwrap().to_owned()
}

fn parsed(args: &[&str], env: Option<&str>) -> (Args, Vec<String>) {
    match parse_args(&s(args), env.map(str::to_owned)) {
        Ok(Parsed::Run(a, w)) => (a, w),
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn token_from_the_environment() {
    let (a, w) = parsed(&["https://h.example"], Some(TOKEN));
    assert_eq!(a.token.as_deref(), Some(TOKEN));
    assert_eq!(a.token_source, TokenSource::Environment);
    assert!(w.is_empty(), "{w:?}");
    // Empty counts as unset.
    let (a, _) = parsed(&["https://h.example"], Some(""));
    assert_eq!((a.token, a.token_source), (None, TokenSource::None));
    let (a, _) = parsed(&["https://h.example"], None);
    assert_eq!((a.token, a.token_source), (None, TokenSource::None));
}

#[test]
fn token_from_a_file() {
    let path = token_file("file", format!("{TOKEN}\n").as_bytes());
    for args in [
        vec!["https://h.example", "--token-file", &path],
        vec![&format!("--token-file={path}"), "https://h.example"],
    ] {
        let (a, w) = parsed(&args, None);
        assert_eq!(a.token.as_deref(), Some(TOKEN), "trailing newline stripped");
        assert_eq!(a.token_source, TokenSource::File(path.clone()));
        assert!(w.is_empty(), "{w:?}");
    }
}

#[test]
fn token_on_the_command_line_works_but_warns() {
    for args in [
        vec!["https://h.example", "--token", TOKEN],
        vec![&format!("--token={TOKEN}"), "https://h.example"],
    ] {
        let (a, w) = parsed(&args, None);
        assert_eq!(a.token.as_deref(), Some(TOKEN));
        assert_eq!(a.token_source, TokenSource::CommandLine);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("other local users") && w[0].contains("ps"),
            "{}",
            w[0]
        );
        assert!(
            w[0].contains(TOKEN_ENV) && w[0].contains("--token-file"),
            "{}",
            w[0]
        );
        assert!(!w[0].contains(TOKEN));
    }
}

#[test]
fn the_command_line_beats_the_environment() {
    let path = token_file("precedence", b"from_the_file_0123\n");
    let (a, _) = parsed(&["https://h.example", "--token-file", &path], Some(TOKEN));
    assert_eq!(a.token.as_deref(), Some("from_the_file_0123"));
    let (a, w) = parsed(
        &["https://h.example", "--token", "from_the_flag_0123"],
        Some(TOKEN),
    );
    assert_eq!(a.token.as_deref(), Some("from_the_flag_0123"));
    assert_eq!(w.len(), 1);
    // Both flags: ambiguous, refused.
    let e = parse_args(
        &s(&["https://h.example", "--token", "x", "--token-file", &path]),
        None,
    )
    .unwrap_err();
    assert!(e.contains("not both"), "{e}");
}

#[test]
fn bad_token_files_are_clear_errors_without_their_contents() {
    let missing = "/nonexistent/mxclock/token";
    let e = parse_args(&s(&["https://h.example", "--token-file", missing]), None).unwrap_err();
    assert!(e.contains("cannot read") && e.contains(missing), "{e}");
    let empty = token_file("empty", b"  \n");
    let e = parse_args(&s(&["https://h.example", "--token-file", &empty]), None).unwrap_err();
    assert!(e.contains("is empty"), "{e}");
    let huge = token_file("huge", &vec![b'a'; 65 * 1024]);
    let e = parse_args(&s(&["https://h.example", "--token-file", &huge]), None).unwrap_err();
    assert!(e.contains("64 KiB"), "{e}");
    let binary = token_file("binary", b"syt_SECRETPART_\xff\xfe");
    let e = parse_args(&s(&["https://h.example", "--token-file", &binary]), None).unwrap_err();
    assert!(e.contains("not UTF-8") && !e.contains("SECRETPART"), "{e}");
    let e = parse_args(&s(&["https://h.example", "--token-file"]), None).unwrap_err();
    assert!(e.contains("needs a value"), "{e}");
    // A mistyped flag with the token glued on is not echoed.
    let e = parse_args(&s(&["https://h.example", &format!("--tokn={TOKEN}")]), None).unwrap_err();
    assert!(e.contains("--tokn") && !e.contains(TOKEN), "{e}");
}

#[cfg(unix)]
#[test]
fn a_token_file_others_can_read_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let path = token_file("mode", TOKEN.as_bytes());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (a, w) = parsed(&["https://h.example", "--token-file", &path], None);
    assert_eq!(a.token.as_deref(), Some(TOKEN));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("0644") && w[0].contains("chmod 600"),
        "{}",
        w[0]
    );
}

/// Each source, end to end against the loopback homeserver: the token
/// arrives as `Authorization: Bearer`, stdout has the result, stderr warns
/// for `--token` only, and no output holds the token.
#[cfg(feature = "http")]
#[test]
fn each_source_reaches_the_server() {
    use mxclock_test_homeserver::{HomeserverConfig, TestHomeserver};
    let path = token_file("e2e", format!("{TOKEN}\r\n").as_bytes());
    let server = TestHomeserver::start(HomeserverConfig::default()).unwrap();
    let url = server.base_url();
    let cases: [(Vec<&str>, Option<&str>, bool); 3] = [
        (vec![&url, "--json"], Some(TOKEN), false),
        (vec![&url, "--json", "--token-file", &path], None, false),
        (vec![&url, "--json", "--token", TOKEN], None, true),
    ];
    for (args, env, warns) in cases {
        server.clear_requests();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        run_with(&s(&args), env.map(str::to_owned), &mut out, &mut err).unwrap();
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        let sent = server.requests();
        assert!(!sent.is_empty());
        let bearer = format!("Bearer {TOKEN}");
        assert!(
            sent.iter()
                .any(|r| r.header("authorization") == Some(bearer.as_str())),
            "{args:?}: the server did not get the token"
        );
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert!(v["uncertainty_ms"].as_i64().unwrap() >= 0, "{out}");
        assert_eq!(err.contains("warning: --token"), warns, "{args:?}: {err}");
        assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}{err}");
    }
}

/// A server that echoes the token in its refusal: the CLI's error says why,
/// not what the token was.
#[cfg(feature = "http")]
#[test]
fn errors_never_print_the_token() {
    use mxclock_test_homeserver::{Fault, HomeserverConfig, TestHomeserver};
    let server = TestHomeserver::start(HomeserverConfig {
        fault: Fault::MatrixError {
            status: 401,
            errcode: "M_UNKNOWN_TOKEN".into(),
            error: format!("unknown token {}", TOKEN.replace('_', "%5F")),
        },
        ..HomeserverConfig::default()
    })
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let e = run_with(
        &s(&[&server.base_url()]),
        Some(TOKEN.into()),
        &mut out,
        &mut err,
    )
    .unwrap_err();
    assert!(e.contains("401") && e.contains("M_UNKNOWN_TOKEN"), "{e}");
    assert!(!e.contains("CLITOKENSECRET"), "{e}");
}
