//! TLS for detection: a rustls client that accepts any certificate (detection identifies,
//! it does not trust), and the leaf certificate read with `x509-parser`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::TlsInfo;

/// Accepts every certificate and every signature: the handshake is completed to see what
/// the server presents and to reach the service inside, never to trust it.
#[derive(Debug)]
struct AcceptAny(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// The client configuration detection uses: TLS 1.2 and 1.3 with ring's suites, any
/// certificate accepted, no client certificate, no ALPN (the service inside is found by
/// probing it).
pub(crate) fn client_config() -> Arc<ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let schemes = provider
                .signature_verification_algorithms
                .supported_schemes();
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(schemes)))
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// What the handshake showed: the leaf certificate (when the server sent one) and the
/// session's version and cipher suite.
pub(crate) fn session_info(conn: &rustls::ClientConnection) -> TlsInfo {
    let mut info = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|leaf| certificate_info(leaf.as_ref()))
        .unwrap_or_default();
    info.version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    });
    info.cipher = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));
    info
}

/// Subject, issuer, SANs and expiry of a DER certificate; empty fields when it cannot be
/// parsed (a server may send anything).
pub fn certificate_info(der: &[u8]) -> TlsInfo {
    let mut info = TlsInfo::default();
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(der) else {
        return info;
    };
    info.subject = Some(cert.subject().to_string());
    info.issuer = Some(cert.issuer().to_string());
    info.not_after = Some(rfc3339(cert.validity().not_after.timestamp()));
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => info.sans.push(d.to_string()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => info.sans.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default())
                            .to_string(),
                    ),
                    16 => info.sans.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap_or_default())
                            .to_string(),
                    ),
                    _ => {}
                },
                GeneralName::RFC822Name(m) => info.sans.push(format!("email:{m}")),
                GeneralName::URI(u) => info.sans.push(format!("uri:{u}")),
                _ => {}
            }
        }
    }
    info
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian calendar).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
