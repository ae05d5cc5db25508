//! What a reply that carries no usable server time means: its status and
//! Matrix error mapped to an [`Error`], with the request's secrets scrubbed
//! from the server's words.

use serde_json::Value;

use super::body::json_object;
use super::redact::Secrets;
use super::retry::{retry_after_ms, DEFAULT_RETRY_AFTER_MS};
use super::url::{origin_of, url_for_message};
use crate::error::Error;
use crate::transport::{HttpRequest, HttpResponse};

/// Whether the reply says the MSC4094 endpoint does not exist: 404, 405, or
/// a Matrix `M_UNRECOGNIZED` error with any status. The `Date` header of the
/// same response is still a usable sample.
pub fn is_endpoint_unsupported(response: &HttpResponse) -> bool {
    matches!(response.status, 404 | 405)
        || matrix_error(response).is_some_and(|(errcode, _)| errcode == "M_UNRECOGNIZED")
}

/// The Matrix error of a reply (`errcode`, `error`), if its body is one.
/// `error` is empty when absent; both are cleaned of control characters and
/// shortened, as they end up in messages.
pub fn matrix_error(response: &HttpResponse) -> Option<(String, String)> {
    let obj = json_object(&response.body)?;
    let errcode = obj.get("errcode")?.as_str()?;
    let error = obj.get("error").and_then(Value::as_str).unwrap_or("");
    Some((clean(errcode, 64), clean(error, 300)))
}

/// `s` without control characters, at most `max_chars` characters.
fn clean(s: &str, max_chars: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    truncate(&s, max_chars)
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

/// The error for a reply to `request` that carries no usable server time,
/// from its status (and Matrix error, if any). Messages name the request URL
/// without query or credentials, and the request's secrets are redacted from
/// them (a server may echo the token in its `error` text).
///
/// - 301, 302, 303, 307, 308: [`Error::Http`] "redirect to `<origin>` not
///   followed": mxclock never re-sends the token elsewhere; configure the
///   target URL instead.
/// - 304: [`Error::Http`]; mxclock asks nothing conditional, so a cache in
///   between answered for the server. Not a redirect.
/// - 401/403: [`Error::Http`]; `M_UNKNOWN_TOKEN` says the access token is
///   invalid (the token itself is never printed).
/// - 404/405/`M_UNRECOGNIZED`: [`Error::Unsupported`].
/// - 429: [`Error::RateLimited`] with [`retry_after_ms`] or
///   [`DEFAULT_RETRY_AFTER_MS`].
/// - other statuses (4xx, 5xx, even 2xx): [`Error::Http`].
pub(crate) fn response_to_error(response: &HttpResponse, request: &HttpRequest) -> Error {
    Secrets::of_request(request).scrub_error(status_error(response, &request.url))
}

fn status_error(response: &HttpResponse, request_url: &str) -> Error {
    let status = response.status;
    let where_ = url_for_message(request_url);
    let mx = matrix_error(response);
    let mx_suffix = match &mx {
        Some((code, msg)) if msg.is_empty() => format!(" ({code})"),
        Some((code, msg)) => format!(" ({code}: {msg})"),
        None => String::new(),
    };
    let errcode = mx.as_ref().map(|(c, _)| c.as_str());
    match status {
        301 | 302 | 303 | 307 | 308 => {
            let target = match response.header("Location").map(str::trim) {
                None | Some("") => "an address not given (no Location header)".to_owned(),
                Some(loc) => match origin_of(loc) {
                    Some(origin) => origin,
                    // A relative Location stays on the request's origin.
                    None if loc.starts_with('/') && !loc.starts_with("//") => {
                        format!("another path on {}", origin_of(request_url).unwrap_or(where_.clone()))
                    }
                    None => "an unusable Location".to_owned(),
                },
            };
            Error::Http {
                status,
                message: format!(
                    "redirect to {target} not followed (request to {where_}); mxclock never \
                     re-sends the access token elsewhere: configure the homeserver URL the \
                     server redirects to"
                ),
            }
        }
        304 => Error::Http {
            status,
            message: format!(
                "{where_} answered 304 Not Modified to a request that was not conditional: a \
                 cache or proxy in between is answering for the homeserver"
            ),
        },
        401 | 403 if errcode == Some("M_UNKNOWN_TOKEN") => Error::Http {
            status,
            message: format!(
                "the access token is invalid, expired or logged out (M_UNKNOWN_TOKEN) at \
                 {where_}; log in again and configure the new token"
            ),
        },
        401 if errcode == Some("M_MISSING_TOKEN") || mx.is_none() => Error::Http {
            status,
            message: format!(
                "{where_} needs an access token{mx_suffix}; configure one, or rely on the Date header"
            ),
        },
        401 | 403 => Error::Http {
            status,
            message: format!("access to {where_} denied{mx_suffix}"),
        },
        429 => Error::RateLimited {
            retry_after_ms: retry_after_ms(response).unwrap_or(DEFAULT_RETRY_AFTER_MS),
        },
        404 | 405 => Error::Unsupported(format!(
            "{where_} answered {status}{mx_suffix}: the homeserver does not implement the \
             MSC4094 endpoint; use the Date header instead"
        )),
        _ if errcode == Some("M_UNRECOGNIZED") => Error::Unsupported(format!(
            "{where_} answered {status}{mx_suffix}: the homeserver does not implement the \
             MSC4094 endpoint; use the Date header instead"
        )),
        500..=599 => Error::Http {
            status,
            message: format!("server error at {where_}{mx_suffix}; try again later"),
        },
        _ => Error::Http {
            status,
            message: format!("unexpected status from {where_}{mx_suffix}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::HttpHeader;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| HttpHeader::new(*n, *v))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn endpoint_unsupported() {
        assert!(is_endpoint_unsupported(&response(404, &[], "")));
        assert!(is_endpoint_unsupported(&response(405, &[], "<html>")));
        let unrec = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#;
        assert!(is_endpoint_unsupported(&response(400, &[], unrec)));
        assert!(!is_endpoint_unsupported(&response(200, &[], "{}")));
        assert!(!is_endpoint_unsupported(&response(500, &[], "")));
        assert!(!is_endpoint_unsupported(&response(
            400,
            &[],
            r#"{"errcode":"M_UNKNOWN","error":"x"}"#
        )));
    }

    #[test]
    fn matrix_errors() {
        let r = response(
            403,
            &[],
            r#"{"errcode":"M_FORBIDDEN","error":"No\nway\u0007"}"#,
        );
        assert_eq!(
            matrix_error(&r),
            Some(("M_FORBIDDEN".into(), "Noway".into()))
        );
        let r = response(403, &[], r#"{"errcode":"M_FORBIDDEN"}"#);
        assert_eq!(
            matrix_error(&r),
            Some(("M_FORBIDDEN".into(), String::new()))
        );
        assert_eq!(matrix_error(&response(500, &[], r#"{"error":"x"}"#)), None);
        assert_eq!(matrix_error(&response(500, &[], r#"{"errcode":5}"#)), None);
        assert_eq!(
            matrix_error(&response(500, &[], "Internal Server Error")),
            None
        );
        let long = format!(r#"{{"errcode":"M_X","error":"{}"}}"#, "e".repeat(10_000));
        let (_, msg) = matrix_error(&response(500, &[], &long)).unwrap();
        assert!(msg.chars().count() <= 301, "{}", msg.len());
    }

    const URL: &str = "https://h.example/_matrix/client/v3/get_server_now?access_token=qq";

    fn req() -> HttpRequest {
        HttpRequest {
            url: URL.into(),
            headers: vec![HttpHeader::new("Authorization", "Bearer syt_tok_123")],
            timeout_ms: 1_000,
        }
    }

    #[test]
    fn echoed_tokens_are_redacted() {
        let echo = r#"{"errcode":"M_FORBIDDEN","error":"token syt_tok_123 may not; nor qq"}"#;
        let (_, m) = http_error(response_to_error(&response(403, &[], echo), &req()));
        assert!(!m.contains("syt_tok_123"), "{m}");
        assert!(
            m.contains("token <redacted> may not; nor <redacted>"),
            "{m}"
        );
    }

    fn http_error(e: Error) -> (u16, String) {
        match e {
            Error::Http { status, message } => {
                assert!(!message.contains("qq"), "{message}");
                (status, message)
            }
            other => panic!("expected Http, got {other:?}"),
        }
    }

    #[test]
    fn redirects_name_the_target_origin() {
        for status in [301, 302, 303, 307, 308] {
            let r = response(
                status,
                &[("Location", "https://evil.example:8443/steal?x=1")],
                "",
            );
            let (s, m) = http_error(response_to_error(&r, &req()));
            assert_eq!(s, status);
            assert!(
                m.contains("redirect to https://evil.example:8443 not followed"),
                "{m}"
            );
            assert!(!m.contains("steal"), "{m}");
            assert!(
                m.contains("https://h.example/_matrix/client/v3/get_server_now"),
                "{m}"
            );
        }
        let r = response(302, &[("Location", "https://u:pw@evil.example/")], "");
        let (_, m) = http_error(response_to_error(&r, &req()));
        assert!(!m.contains("pw"), "{m}");
        let (_, m) = http_error(response_to_error(
            &response(302, &[("Location", "/x")], ""),
            &req(),
        ));
        assert!(m.contains("another path on https://h.example"), "{m}");
        let (_, m) = http_error(response_to_error(&response(302, &[], ""), &req()));
        assert!(m.contains("no Location"), "{m}");
        let (_, m) = http_error(response_to_error(
            &response(302, &[("Location", "//evil")], ""),
            &req(),
        ));
        assert!(m.contains("unusable"), "{m}");
    }

    #[test]
    fn not_modified_is_not_a_redirect() {
        let r = response(304, &[("Location", "https://evil.example/")], "");
        let (s, m) = http_error(response_to_error(&r, &req()));
        assert_eq!(s, 304);
        assert!(!m.contains("redirect"), "{m}");
        assert!(m.contains("not conditional"), "{m}");
        for status in [300, 305, 306] {
            let (_, m) = http_error(response_to_error(&response(status, &[], ""), &req()));
            assert!(m.contains("unexpected status"), "{status}: {m}");
        }
    }

    #[test]
    fn auth_failures() {
        let unknown = r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#;
        for status in [401, 403] {
            let (s, m) = http_error(response_to_error(&response(status, &[], unknown), &req()));
            assert_eq!(s, status);
            assert!(m.contains("access token is invalid"), "{m}");
        }
        let missing = r#"{"errcode":"M_MISSING_TOKEN","error":"Missing access token"}"#;
        let (_, m) = http_error(response_to_error(&response(401, &[], missing), &req()));
        assert!(m.contains("needs an access token"), "{m}");
        let (_, m) = http_error(response_to_error(&response(401, &[], ""), &req()));
        assert!(m.contains("needs an access token"), "{m}");
        let forbidden = r#"{"errcode":"M_FORBIDDEN","error":"Nope"}"#;
        let (_, m) = http_error(response_to_error(&response(403, &[], forbidden), &req()));
        assert!(m.contains("denied (M_FORBIDDEN: Nope)"), "{m}");
    }

    #[test]
    fn other_statuses() {
        assert_eq!(
            response_to_error(&response(429, &[("Retry-After", "7")], ""), &req()),
            Error::RateLimited {
                retry_after_ms: 7_000
            }
        );
        assert_eq!(
            response_to_error(&response(429, &[], ""), &req()),
            Error::RateLimited {
                retry_after_ms: DEFAULT_RETRY_AFTER_MS
            }
        );
        for status in [404, 405] {
            assert!(matches!(
                response_to_error(&response(status, &[], ""), &req()),
                Error::Unsupported(m) if m.contains(&status.to_string()) && !m.contains("qq")
            ));
        }
        let unrec = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized"}"#;
        assert!(matches!(
            response_to_error(&response(400, &[], unrec), &req()),
            Error::Unsupported(m) if m.contains("M_UNRECOGNIZED")
        ));
        for status in [500, 502, 503, 504] {
            let (s, m) = http_error(response_to_error(&response(status, &[], "oops"), &req()));
            assert_eq!(s, status);
            assert!(m.contains("server error"), "{m}");
        }
        let (s, m) = http_error(response_to_error(&response(418, &[], ""), &req()));
        assert_eq!(s, 418);
        assert!(m.contains("unexpected status"), "{m}");
    }
}

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn response_to_error_example() {
        use crate::protocol::{
            response_to_error, server_now_request, HomeserverUrl, DEFAULT_ENDPOINT_PATH,
        };
        use crate::transport::{HttpHeader, HttpResponse};
        use crate::Error;
        let url = HomeserverUrl::parse("https://matrix.example.org", false).unwrap();
        let request = server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some("syt_secret"), 5_000);
        let r = HttpResponse {
            status: 302,
            headers: vec![HttpHeader::new("Location", "https://elsewhere.example/x")],
            body: vec![],
        };
        let e = response_to_error(&r, &request);
        assert!(
            matches!(&e, Error::Http { status: 302, message } if message.contains("https://elsewhere.example"))
        );
    }
}
