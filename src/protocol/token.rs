//! The access token's rule: a Bearer credential (RFC 6750 `b64token`:
//! letters, digits, `-._~+/`, then optional `=` padding) of at most
//! [`MAX_ACCESS_TOKEN_BYTES`]. Anything else would break or inject headers,
//! be mangled on the way, or is not a token at all (a file's contents, a
//! whole config pasted by mistake). Messages never contain the token.

use crate::error::{Error, Result};

/// Longest access token accepted (4 KiB). Homeservers issue tokens of a few
/// dozen characters; macaroons run to a few hundred.
pub(crate) const MAX_ACCESS_TOKEN_BYTES: usize = 4096;

/// Checks an access token; the error says what is wrong and where, never
/// the token itself.
pub(crate) fn validate_access_token(token: &str) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidConfig(m));
    if token.is_empty() {
        return bad("the access token is empty; pass none instead".into());
    }
    if token.len() > MAX_ACCESS_TOKEN_BYTES {
        return bad(format!(
            "the access token is {} bytes long, more than the {MAX_ACCESS_TOKEN_BYTES} mxclock \
             accepts; Matrix access tokens are far shorter: check that the right value was passed",
            token.len()
        ));
    }
    let padding_from = token.trim_end_matches('=').len();
    let first_bad = token.char_indices().find(|&(i, c)| {
        let token_char = c.is_ascii_alphanumeric() || "-._~+/".contains(c);
        !(token_char && i < padding_from || c == '=' && i >= padding_from)
    });
    if padding_from == 0 {
        return bad(
            "the access token is only `=` padding; copy it again exactly as the homeserver gave it"
                .into(),
        );
    }
    if let Some((at, c)) = first_bad {
        // One character is not a secret: naming it helps find a stray quote.
        let what = match c {
            ' ' => "a space".to_owned(),
            '\r' | '\n' => "a line break".to_owned(),
            c if c.is_control() => "a control character".to_owned(),
            c if !c.is_ascii() => "a non-ASCII character".to_owned(),
            '=' => "`=` before the end (only trailing `=` padding is allowed)".to_owned(),
            c => format!("`{c}`"),
        };
        return bad(format!(
            "the access token contains {what} at byte {at}; a Bearer token is letters, digits \
             and -._~+/ with optional trailing `=` (RFC 6750): copy it again exactly as the \
             homeserver gave it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(token: &str) -> String {
        match validate_access_token(token) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{token:?}: {other:?}"),
        }
    }

    #[test]
    fn accepted() {
        for ok in [
            "syt_YWxpY2U_abcdefghijklmnop_0a1b2c",
            "MDAxabc+/~.-_==",
            "a",
            "abc=",
            &"x".repeat(MAX_ACCESS_TOKEN_BYTES),
        ] {
            validate_access_token(ok).unwrap();
        }
    }

    #[test]
    fn refused_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("=", "only `=`"),
            ("==", "only `=`"),
            (" ", "a space at byte 0"),
            ("ab cdefgh", "a space at byte 2"),
            ("abc\r\nX-Evil: 1", "a line break at byte 3"),
            ("abc\u{7}", "a control character"),
            ("tök", "a non-ASCII character at byte 1"),
            ("a\u{0}", "a control character"),
            ("a=b", "`=` before the end"),
            ("a\"b", "`\"`"),
            ("a\\b", "`\\`"),
            ("a#b", "`#`"),
            ("a&b", "`&`"),
            ("a,b", "`,`"),
            ("a:b", "`:`"),
        ];
        for (bad, want) in cases {
            let m = message(bad);
            assert!(m.contains(want), "{bad:?}: {m}");
        }
        let huge = "a".repeat(1_000_000);
        let m = message(&huge);
        assert!(m.contains("1000000 bytes") && m.contains("4096"), "{m}");
        assert!(m.len() < 300, "{m}");
        let m = message(&"b".repeat(MAX_ACCESS_TOKEN_BYTES + 1));
        assert!(m.contains("4097 bytes"), "{m}");
    }

    #[test]
    fn messages_never_hold_the_token() {
        for bad in [
            "syt_abcdefghijk lmnop",
            "syt_abcdefghijk\"lmnop",
            "syt_abcdefghijkölmnop",
        ] {
            let m = message(bad);
            assert!(!m.contains("syt_abcdefgh"), "{m}");
        }
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn validate_access_token_example() {
        use crate::protocol::validate_access_token;
        assert!(validate_access_token("syt_YWxpY2U_HdTBobVyRVrDmZdLzXSc_1GhsNJ").is_ok());
        assert!(validate_access_token("two words").is_err());
        assert!(validate_access_token(&"a".repeat(4097)).is_err());
    }
}
