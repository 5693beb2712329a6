//! HTTPS to upstreams, on rustls (no OpenSSL; its *ring* provider, see [`TlsClient::new`]): the upstream's certificate and host name are
//! always verified, against Mozilla's roots compiled in (webpki-roots, so a `FROM scratch` image
//! needs no CA files) and the PEM certificates of `--upstream-ca-file` (a private CA). There is
//! no switch to turn verification off. TLS 1.2 and 1.3; ALPN offers `h2` and `http/1.1` (or one
//! of them, as the upstream's `http` says). One client
//! configuration serves every worker, so its session cache resumes sessions on reconnect
//! whichever worker reconnects.
//!
//! A handshake that fails is a `tls` error whose detail names the cause: unknown issuer,
//! expired, name mismatch, no common protocol version, not TLS at all.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{Failure, SourceErrorType};
use crate::config::files::read_regular_file;
use crate::config::upstream::{HttpVersion, MAX_CA_FILE_BYTES};

/// The TLS client every upstream call over `https://` uses.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

impl TlsClient {
    /// A client trusting Mozilla's roots and the certificates in each of `ca_files`, each
    /// named by the setting that gave it (`--upstream-ca-file`, an upstream's `ca_file`); the
    /// error is one line naming the setting, the file and what is wrong with it.
    pub fn new(ca_files: &[(&str, &Path)]) -> Result<Self, String> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for &(setting, path) in ca_files {
            let named = |why: String| format!("{setting} {}: {why}", path.display());
            for certificate in read_ca_file(path).map_err(named)? {
                roots
                    .add(certificate)
                    .map_err(|error| named(format!("a certificate is unfit as a root: {error}")))?;
            }
        }
        // *ring*, not aws-lc-rs, rustls' default. rustls 0.23.48 deprecates *ring*'s provider
        // because it lacks the post-quantum hybrid key exchange (X25519MLKEM768), but aws-lc
        // made the binary 3.8 MB larger: the image past its 12 MB and idle RSS past its 10 MB
        // (docs/benchmarks.md). X25519 and the NIST curves remain.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS cannot be set up: {error}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn(HttpVersion::Auto);
        Ok(Self::from_config(config))
    }

    fn from_config(config: ClientConfig) -> Self {
        let config = Arc::new(config);
        Self {
            connector: TlsConnector::from(Arc::clone(&config)),
            config,
        }
    }

    /// The same client (its roots and its session cache) offering by ALPN what `version`
    /// allows.
    pub fn offering(&self, version: HttpVersion) -> Self {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn(version);
        Self::from_config(config)
    }

    /// Runs the handshake on `stream` with `host` (a name or an IP address, unbracketed), which
    /// the certificate must be valid for.
    pub(super) async fn connect(
        &self,
        host: &ServerName<'static>,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, Failure> {
        self.connector
            .connect(host.clone(), stream)
            .await
            .map_err(|error| handshake_failed(&error, host))
    }
}

/// What ALPN offers for `version`: `h2` and `http/1.1`, or one of them.
fn alpn(version: HttpVersion) -> Vec<Vec<u8>> {
    match version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    }
}

/// Whether the handshake on `stream` chose HTTP/2.
pub(super) fn chose_h2(stream: &TlsStream<TcpStream>) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(b"h2")
}

/// The name a certificate must be valid for, from a URL's host (an IPv6 address bracketed).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| format!("{host} is not a host name"))
}

/// The PEM certificates in `path`: at least one, the file at most [`MAX_CA_FILE_BYTES`].
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_regular_file(path, MAX_CA_FILE_BYTES)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not a PEM bundle: {error}"))?;
    if certificates.is_empty() {
        return Err("holds no PEM certificate".to_owned());
    }
    Ok(certificates)
}

/// The `tls` failure of a handshake with `host`, naming its cause.
fn handshake_failed(error: &io::Error, host: &ServerName<'_>) -> Failure {
    let host = host.to_str();
    let Some(cause) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return Failure::new(
            SourceErrorType::Tls,
            format!(
                "the connection was lost during the TLS handshake: {}",
                error.kind()
            ),
        );
    };
    let detail = match cause {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => "unknown issuer: the upstream's certificate is \
                not signed by a trusted CA (a private CA goes in --upstream-ca-file, or the upstream's ca_file)"
                .to_owned(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "expired: the upstream's certificate is past its end date".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not yet valid: the upstream's certificate starts later".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("name mismatch: the upstream's certificate is not valid for {host}")
            }
            other => format!("the upstream's certificate is refused: {other}"),
        },
        rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)
        | rustls::Error::PeerIncompatible(_) => {
            format!(
                "no common protocol version: the upstream speaks neither TLS 1.2 nor 1.3 ({cause})"
            )
        }
        rustls::Error::InvalidMessage(_) => {
            "not TLS: the upstream answered the handshake with something else (plain HTTP on a \
             TLS port?)"
                .to_owned()
        }
        rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol) => {
            "no common application protocol: the upstream does not offer HTTP/2, which its \
             http = \"2\" asks for (ALPN)"
                .to_owned()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the upstream refused the handshake: {alert:?}")
        }
        other => format!("the TLS handshake failed: {other}"),
    };
    Failure::new(SourceErrorType::Tls, detail)
}
