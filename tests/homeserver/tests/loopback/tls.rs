//! HTTPS with the self-signed certificate: verifying clients fail, clients
//! that trust it succeed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use crate::common::*;
use mxclock_test_homeserver::{HomeserverConfig, TestHomeserver, TLS_CERT_DER};
use rustls::pki_types::{CertificateDer, ServerName};

fn client_config(trust_test_cert: bool) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if trust_test_cert {
        roots.add(CertificateDer::from(TLS_CERT_DER)).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn https_get(port: u16, trust_test_cert: bool) -> std::io::Result<String> {
    let conn = rustls::ClientConnection::new(
        client_config(trust_test_cert),
        ServerName::try_from("127.0.0.1").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(("127.0.0.1", port))?);
    tls.write_all(request_text("GET", TIME_PATH, &[], true).as_bytes())?;
    let mut reply = Vec::new();
    match tls.read_to_end(&mut reply) {
        Ok(_) => {}
        // The server closes the TCP connection without close_notify.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !reply.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8(reply).unwrap())
}

#[test]
fn trusted_client_gets_the_time_over_https() {
    let server = TestHomeserver::start_tls(HomeserverConfig {
        skew_ms: 1234.0,
        ..HomeserverConfig::default()
    })
    .unwrap();
    assert!(server.is_tls());
    assert_eq!(
        server.base_url(),
        format!("https://127.0.0.1:{}", server.port())
    );
    let reply = https_get(server.port(), true).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("\"server_now\":"));
    assert_eq!(server.request_count().time_endpoint, 1);
}

#[test]
fn verifying_client_rejects_the_self_signed_certificate() {
    let server = TestHomeserver::start_tls(HomeserverConfig::default()).unwrap();
    let err = https_get(server.port(), false).expect_err("untrusted certificate accepted");
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {err}"));
    assert!(
        matches!(
            inner,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{inner:?}"
    );
    assert_eq!(server.request_count().total, 0);
}

#[test]
fn tls_client_on_a_plain_port_fails_at_once() {
    let server = TestHomeserver::start(HomeserverConfig::default()).unwrap();
    let err = https_get(server.port(), true).expect_err("TLS over plain HTTP worked");
    assert!(
        err.get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .is_some(),
        "{err}"
    );
}

#[test]
fn plain_client_on_the_tls_port_gets_no_http() {
    let server = TestHomeserver::start_tls(HomeserverConfig::default()).unwrap();
    let mut tcp = connect(server.port());
    tcp.write_all(request_text("GET", TIME_PATH, &[], true).as_bytes())
        .unwrap();
    let (got, _) = read_all_raw(&mut tcp);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}
