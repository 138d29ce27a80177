//! The TLS listener, with a CA and a server certificate made for the test.

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use smsgw_broker::{
    BrokerConfig, BrokerHandle, Error,
    config::{ListenerConfig, MqttVersion, TlsFiles},
};

use crate::{
    checks,
    helpers::{Target, TestClient, init_tracing, secret, unique},
};

/// Writes `ca.pem`, `server.pem` and `server.key` (for 127.0.0.1 and localhost) into
/// `dir`; returns the CA certificate.
pub fn make_pki(dir: &Path) -> Vec<u8> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "smsgw test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params");
    server_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "smsgw-broker");
    let server_key = KeyPair::generate().expect("server key");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");

    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write CA");
    std::fs::write(dir.join("server.pem"), server_cert.pem()).expect("write cert");
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).expect("write key");
    ca_cert.pem().into_bytes()
}

/// [`BrokerConfig::loopback`] with a TLS listener named `tls` on the files of [`make_pki`].
pub fn tls_config(dir: &Path) -> BrokerConfig {
    let mut config = BrokerConfig::loopback();
    config.listeners.push(ListenerConfig {
        name: "tls".into(),
        listen: "127.0.0.1:0".parse().expect("address"),
        protocol: MqttVersion::V4,
        tls: Some(TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }),
    });
    config
}

/// rumqttc builds its TLS client with rustls' process-wide provider, which rustls cannot
/// pick by itself when the workspace links both aws-lc-rs and ring.
pub fn install_crypto_provider() {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A broker with a plain and a TLS listener, and the target of its TLS listener (which
/// trusts the test CA).
async fn spawn_tls_broker() -> (BrokerHandle, Target) {
    init_tracing();
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = make_pki(dir.path());
    // The certificate is read at start: the directory may go.
    let broker = smsgw_broker::start(tls_config(dir.path()), &secret())
        .await
        .expect("the broker starts");
    let addr = broker.tls_addr.expect("TLS listener");
    assert_eq!(broker.addr_of("tls"), Some(addr));
    let mut target = Target::broker(addr);
    target.name = "smsgw-broker over TLS";
    target.tls_ca = Some(ca);
    (broker, target)
}

#[tokio::test]
async fn tls_listener_delivers_with_a_test_ca() {
    let (broker, mut target) = spawn_tls_broker().await;
    checks::qos1_delivery(&target).await;

    // A client that does not trust the CA does not get in.
    let other_dir = tempfile::tempdir().expect("temp dir");
    target.tls_ca = Some(make_pki(other_dir.path()));
    let refused = TestClient::connect(target.options(&format!("agent-{}", unique("s")))).await;
    assert!(refused.is_err(), "an unknown CA must fail the handshake");

    // The plain listener still works beside it.
    Target::broker(broker.mqtt_addr.expect("plain listener"))
        .assert_connects(&unique("api-"))
        .await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_stalled_handshake_does_not_hold_up_other_clients() {
    let (broker, target) = spawn_tls_broker().await;
    let addr = broker.tls_addr.expect("TLS listener");

    // Sockets that never say hello (rumqttd's own TLS would stop accepting here).
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(
            tokio::net::TcpStream::connect(addr)
                .await
                .expect("TCP connect"),
        );
    }
    target.assert_connects(&unique("api-")).await;
    drop(stalled);
    broker.shutdown().await;
}

#[tokio::test]
async fn missing_tls_files_fail_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let result = smsgw_broker::start(tls_config(dir.path()), &secret()).await;
    assert!(
        matches!(result, Err(Error::Tls { ref listener, .. }) if listener == "tls"),
        "{result:?}"
    );

    // Files that are there but hold no key.
    make_pki(dir.path());
    std::fs::write(dir.path().join("server.key"), "not a key").expect("write");
    let result = smsgw_broker::start(tls_config(dir.path()), &secret()).await;
    assert!(matches!(result, Err(Error::Tls { .. })), "{result:?}");
}
