//! A throw-away certificate authority and a server certificate for 127.0.0.1 and localhost.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// PEM files written into a test's folder.
#[derive(Debug, Clone)]
pub struct TestCertificate {
    /// The CA certificate clients must trust.
    pub ca_cert: PathBuf,
    /// The server certificate (for `tls_cert`).
    pub server_cert: PathBuf,
    /// The server's private key (for `tls_key`).
    pub server_key: PathBuf,
}

impl TestCertificate {
    /// Creates a CA and a server certificate signed by it (SANs: IP 127.0.0.1 and localhost),
    /// and writes them as `ca.pem`, `cert.pem`, `key.pem` into `dir`.
    ///
    /// A separate CA rather than one self-signed leaf: strict verifiers (rustls/webpki, OpenSSL
    /// with X509_STRICT) then accept it the way they accept a real deployment's chain.
    pub fn create_in(dir: &Path) -> TestCertificate {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "s3-auth-proxy test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let server_cert = server_params
            .signed_by(&server_key, &ca_cert, &ca_key)
            .expect("sign server certificate");

        let files = TestCertificate {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("cert.pem"),
            server_key: dir.join("key.pem"),
        };
        fs::write(&files.ca_cert, ca_cert.pem()).expect("write ca.pem");
        fs::write(&files.server_cert, server_cert.pem()).expect("write cert.pem");
        fs::write(&files.server_key, server_key.serialize_pem()).expect("write key.pem");
        files
    }
}
