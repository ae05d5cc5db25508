//! The MSC4094 exchange without I/O: the requests mxclock makes, what their
//! replies say, and the rules for the homeserver URL and the access token.
//! Every function here is a pure function of its arguments; sending and
//! receiving is [`crate::transport`]'s.
//!
//! | module | one concept |
//! |---|---|
//! | `url` | [`HomeserverUrl`] and the endpoint path rule |
//! | `token` | the access token rule ([`validate_access_token`]) |
//! | `request` | the two GETs ([`server_now_request`], [`date_probe_request`]) |
//! | `body` | the MSC4094 reply body ([`parse_server_now_body`]) |
//! | `date` | `Date` and `Age` headers ([`response_date`], leap seconds) |
//! | `retry` | `Retry-After` and `retry_after_ms` ([`retry_after_ms`]) |
//! | `status` | a reply without a time as an [`Error`](crate::Error) ([`response_to_error`]) |
//! | `redact` | the token kept out of messages ([`redact_error`]) |

mod body;
mod date;
mod redact;
mod request;
mod retry;
mod status;
mod token;
mod url;

pub use body::parse_server_now_body;
pub(crate) use date::response_date;
pub use date::{parse_age_header, parse_date_header, ResponseDate};
pub(crate) use request::date_probe_request;
pub use request::{server_now_request, DATE_PROBE_PATH, DEFAULT_ENDPOINT_PATH};
pub use retry::{retry_after_ms, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS};
pub(crate) use status::response_to_error;
pub use status::{is_endpoint_unsupported, matrix_error};
pub(crate) use token::validate_access_token;
pub(crate) use url::validate_endpoint_path;
pub use url::HomeserverUrl;

pub(crate) use redact::{Secrets, REDACTED, SECRET_HEADERS};
#[cfg(feature = "http")]
pub(crate) use url::is_loopback_host;
#[cfg(any(feature = "http", feature = "capi"))]
pub(crate) use url::url_for_message;
#[cfg(test)]
pub(crate) use {redact::redact_error, token::MAX_ACCESS_TOKEN_BYTES};

#[cfg(test)]
mod doc_examples {
    /// The example from the docs, kept as a test: the API it shows is
    /// crate-internal now.
    #[test]
    fn protocol_module_example() -> crate::Result<()> {
        use crate::protocol::{
            parse_server_now_body, response_date, server_now_request, HomeserverUrl,
            DEFAULT_ENDPOINT_PATH,
        };
        use crate::transport::{HttpHeader, HttpResponse};

        let url = HomeserverUrl::parse("https://matrix.example.org", false)?;
        let _request = server_now_request(&url, DEFAULT_ENDPOINT_PATH, Some("syt_token"), 5_000);
        // ... an app sends `request` with its own HTTP stack, at boot time 1 000 ms,
        // and the reply arrives at 1 060 ms:
        let reply = HttpResponse {
            status: 200,
            headers: vec![HttpHeader::new("Date", "Tue, 14 Nov 2023 22:13:20 GMT")],
            body: br#"{"server_now": 1700000000123}"#.to_vec(),
        };
        assert_eq!(parse_server_now_body(&reply.body)?, 1_700_000_000_123);
        let date_sample = response_date(&reply)?.sample(1_000, 1_060)?;
        assert!(date_sample.hi_ms - date_sample.lo_ms <= 1_000 + 60 + 1);
        Ok(())
    }
}
