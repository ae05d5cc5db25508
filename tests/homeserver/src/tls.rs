//! HTTPS on loopback with a checked-in self-signed certificate.
//!
//! The key pair in `tls/` was made once with
//! `faketime '2000-01-01' openssl req -x509 -newkey ec -pkeyopt
//! ec_paramgen_curve:prime256v1 -nodes -days 54000 -subj
//! /CN=mxclock-test-homeserver -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//! -addext basicConstraints=critical,CA:FALSE ...` (valid 2000 to 2147, so a
//! faked clock cannot make it expire) and converted to DER. It protects
//! nothing: it exists so a client that verifies certificates fails, and a test
//! that trusts [`TLS_CERT_DER`] explicitly succeeds.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::server::Conn;

/// The server's self-signed certificate (DER), subject alternative names
/// `localhost` and `127.0.0.1`. Trust it explicitly to talk to
/// [`crate::TestHomeserver::start_tls`] successfully.
pub const TLS_CERT_DER: &[u8] = include_bytes!("../tls/cert.der");

const TLS_KEY_PKCS8_DER: &[u8] = include_bytes!("../tls/key.der");

pub(crate) fn server_config() -> io::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(TLS_CERT_DER)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(TLS_KEY_PKCS8_DER)),
        )
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

pub(crate) type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

pub(crate) fn wrap(config: &Arc<rustls::ServerConfig>, tcp: TcpStream) -> io::Result<TlsStream> {
    let conn = rustls::ServerConnection::new(config.clone()).map_err(io::Error::other)?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

impl Conn for TlsStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}
