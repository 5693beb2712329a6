//! `https://` upstreams: Debian's nginx serving TLS with certificates made here from a private
//! CA (rcgen), one server per way a handshake can fail. Each failure is a typed `tls` error
//! naming its cause, within the call's time, and the healthy source in the same aggregate is
//! still ok. Connections and TLS session reuse are counted at nginx (its access log).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use greeter::config::{ServeSettings, Upstream};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use serde_json::json;

use crate::helpers::{TestApp, skip, spawn_app_with, test_settings};
use crate::nginx::{Nginx, TempDir, find_program, free_port};
use crate::test_upstream::source;

/// A private CA, the certificates it signs, and one from a CA nobody trusts, as PEM files.
pub(crate) struct Certificates {
    dir: TempDir,
}

impl Certificates {
    pub(crate) fn make() -> Self {
        let dir = TempDir::new("tls");
        let (ca_pem, ca) = certificate_authority("greeter test CA");
        std::fs::write(dir.0.join("ca.pem"), ca_pem).unwrap();
        let (_, stranger) = certificate_authority("a CA nobody trusts");
        let now = time::OffsetDateTime::now_utc();
        let leaves: [(&str, &[&str], &Issuer<'_, KeyPair>, _, _); 4] = [
            (
                "good",
                &["localhost", "127.0.0.1"],
                &ca,
                now - time::Duration::days(1),
                now + time::Duration::days(30),
            ),
            (
                "other-name",
                &["other.example"],
                &ca,
                now - time::Duration::days(1),
                now + time::Duration::days(30),
            ),
            (
                "expired",
                &["localhost"],
                &ca,
                date_time_ymd(2020, 1, 1),
                date_time_ymd(2021, 1, 1),
            ),
            (
                "stranger",
                &["localhost"],
                &stranger,
                now - time::Duration::days(1),
                now + time::Duration::days(30),
            ),
        ];
        for (name, names, issuer, not_before, not_after) in leaves {
            let key = KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            let mut params = CertificateParams::new(names).unwrap();
            params.not_before = not_before;
            params.not_after = not_after;
            let certificate = params.signed_by(&key, issuer).unwrap();
            std::fs::write(dir.0.join(format!("{name}.pem")), certificate.pem()).unwrap();
            std::fs::write(dir.0.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        Self { dir }
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.dir.0.join(file)
    }
}

/// A self-signed CA named `name`: its certificate's PEM, and the issuer that signs with it.
pub(crate) fn certificate_authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let certificate = params.self_signed(&key).unwrap();
    (certificate.pem(), Issuer::new(params, key))
}

/// nginx with one TLS server per certificate (and the other kinds of failure), each answering
/// `{"served_by": NAME}`; returns it and each server's port by name.
fn tls_upstreams(nginx: &Path, certificates: &Certificates) -> (Nginx, Vec<(&'static str, u16)>) {
    let ports: Vec<(&str, u16)> = [
        "good",
        "other-name",
        "expired",
        "stranger",
        "tls1-only",
        "plain-http",
        "no-keep-alive",
    ]
    .into_iter()
    .map(|name| (name, free_port()))
    .collect();
    let mut servers = String::new();
    for &(name, port) in &ports {
        let certificate = match name {
            "other-name" | "expired" | "stranger" => name,
            _ => "good",
        };
        let tls = match name {
            "plain-http" => String::new(),
            _ => format!(
                "ssl_certificate {cert};\n    ssl_certificate_key {key};\n",
                cert = certificates.path(&format!("{certificate}.pem")).display(),
                key = certificates.path(&format!("{certificate}.key")).display(),
            ),
        };
        let extra = match name {
            // TLS 1.0 is below OpenSSL 3's default security level: allow it for this server.
            "tls1-only" => "ssl_protocols TLSv1;\n    ssl_ciphers DEFAULT@SECLEVEL=0;\n",
            "no-keep-alive" => "keepalive_timeout 0;\n",
            _ => "",
        };
        let listen = if name == "plain-http" { "" } else { " ssl" };
        servers.push_str(&format!(
            "  server {{\n    listen 127.0.0.1:{port}{listen};\n    {tls}    {extra}\
             location / {{ default_type application/json; return 200 '{{\"served_by\": \"{name}\"}}'; }}\n  }}\n"
        ));
    }
    let listening: Vec<u16> = ports.iter().map(|&(_, port)| port).collect();
    (Nginx::start(nginx, &servers, &listening), ports)
}

pub(crate) fn nginx_or_skip() -> Option<PathBuf> {
    let found = find_program("nginx");
    if found.is_none() {
        skip("nginx is not installed (apt-get install nginx-light)");
    }
    found
}

/// The app calling each `(name, port)` as `https://localhost:PORT/NAME`, trusting `ca_file`.
fn app_calling(ports: &[(&str, u16)], ca_file: Option<PathBuf>) -> TestApp {
    spawn_app_with(ServeSettings {
        upstreams: ports
            .iter()
            .map(|(name, port)| {
                Upstream::parse(&format!("{name}=https://localhost:{port}/{name}")).unwrap()
            })
            .collect(),
        upstream_timeout: Duration::from_secs(5).into(),
        upstream_ca_file: ca_file,
        ..test_settings()
    })
}

#[actix_web::test]
async fn each_failed_handshake_is_a_typed_tls_error_and_the_good_upstream_is_ok() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (_nginx, ports) = tls_upstreams(&nginx, &certificates);
    let app = app_calling(&ports, Some(certificates.path("ca.pem")));

    let started = Instant::now();
    let reply = app.get("/aggregate").await;
    let took = started.elapsed();

    assert_eq!(reply.status, 200);
    let aggregate = reply.json();
    let good = source(&aggregate, "good");
    assert_eq!(good["ok"], true, "{good}");
    assert_eq!(good["body"], json!({"served_by": "good"}));
    for (name, detail) in [
        (
            "other-name",
            "name mismatch: the upstream's certificate is not valid for localhost",
        ),
        (
            "expired",
            "expired: the upstream's certificate is past its end date",
        ),
        (
            "stranger",
            "unknown issuer: the upstream's certificate is not signed by a trusted CA",
        ),
        ("tls1-only", "no common protocol version"),
        (
            "plain-http",
            "not TLS: the upstream answered the handshake with something else",
        ),
    ] {
        let result = source(&aggregate, name);
        assert_eq!(result["ok"], false, "{result}");
        assert_eq!(result["error"]["type"], "tls", "{result}");
        let said = result["error"]["detail"].as_str().unwrap();
        assert!(said.starts_with(detail), "{name}: {said}");
        assert!(result.get("status").is_none(), "{result}");
    }
    // Every failure is the handshake's own answer, not a timeout.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

/// Without `--upstream-ca-file`, only the public roots compiled in are trusted: the private
/// CA's certificate is an unknown issuer.
#[actix_web::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (_nginx, ports) = tls_upstreams(&nginx, &certificates);
    let good: Vec<_> = ports
        .iter()
        .copied()
        .filter(|(n, _)| *n == "good")
        .collect();

    let aggregate = app_calling(&good, None).get("/aggregate").await.json();

    let result = source(&aggregate, "good");
    assert_eq!(result["error"]["type"], "tls", "{result}");
    assert!(
        result["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("(a private CA goes in --upstream-ca-file, or the upstream's ca_file)"),
        "{result}"
    );
}

/// An upstream's own `ca_file` (from the configuration file) is trusted for it alone.
#[actix_web::test]
async fn an_upstreams_own_ca_file_is_trusted_for_it_alone() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (_nginx, ports) = tls_upstreams(&nginx, &certificates);
    let (_, port) = ports.iter().copied().find(|(n, _)| *n == "good").unwrap();
    let url = format!("https://localhost:{port}/good");
    let mut own = Upstream::parse(&format!("own={url}")).unwrap();
    own.ca_file = Some(certificates.path("ca.pem"));
    let app = spawn_app_with(ServeSettings {
        upstreams: vec![own, Upstream::parse(&format!("other={url}")).unwrap()],
        ..test_settings()
    });

    let aggregate = app.get("/aggregate").await.json();

    assert_eq!(source(&aggregate, "own")["ok"], true, "{aggregate}");
    assert_eq!(
        source(&aggregate, "other")["error"]["type"],
        "tls",
        "{aggregate}"
    );
}

/// An upstream that closes every connection after its answer: each call opens a new one, and
/// each handshake after the first resumes the TLS session (nginx logs `r`).
#[actix_web::test]
async fn sessions_are_resumed_on_reconnect() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (upstream, ports) = tls_upstreams(&nginx, &certificates);
    let closing: Vec<_> = ports
        .iter()
        .copied()
        .filter(|(n, _)| *n == "no-keep-alive")
        .collect();
    let app = app_calling(&closing, Some(certificates.path("ca.pem")));

    for _ in 0..4 {
        let aggregate = app.get("/aggregate").await.json();
        assert_eq!(
            source(&aggregate, "no-keep-alive")["ok"],
            true,
            "{aggregate}"
        );
    }

    let lines = upstream.access_log_of(4);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let connections: std::collections::HashSet<&str> =
        lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(connections.len(), 4, "a connection per call: {lines:?}");
    let reused: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(reused, [".", "r", "r", "r"], "{lines:?}");
}

/// Calls to a keep-alive upstream share connections: 20 aggregates, one after another, on one.
#[actix_web::test]
async fn calls_reuse_a_kept_alive_tls_connection() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (upstream, ports) = tls_upstreams(&nginx, &certificates);
    let good: Vec<_> = ports
        .iter()
        .copied()
        .filter(|(n, _)| *n == "good")
        .collect();
    let app = app_calling(&good, Some(certificates.path("ca.pem")));

    for _ in 0..20 {
        let aggregate = app.get("/aggregate").await.json();
        assert_eq!(source(&aggregate, "good")["ok"], true, "{aggregate}");
    }

    let lines = upstream.access_log_of(20);
    assert_eq!(lines.len(), 20, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.split(' ').next() == lines[0].split(' ').next()),
        "one connection: {lines:?}"
    );
}

/// A CA file that cannot be used stops the start with one line naming it.
#[test]
fn an_unusable_ca_file_is_a_one_line_start_up_error() {
    let dir = TempDir::new("ca-file");
    let empty = dir.0.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.0.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = dir.0.join("missing.pem");
    let device = std::path::PathBuf::from("/dev/zero");
    for (file, says) in [
        (&missing, "cannot read it: No such file or directory"),
        (&device, "is not a regular file"),
        (&empty, "holds no PEM certificate"),
        (&garbage, "not a PEM bundle"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_greeter"))
            .args(["--port", "0", "--upstream-ca-file"])
            .arg(file)
            .args(["--upstream", "a=https://localhost:9/"])
            .output()
            .unwrap();
        // Like the API keys' errors: read at start-up, reported through the log (exit 1).
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].starts_with(&format!(
                "error: --upstream-ca-file {}: {says}",
                file.display()
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

/// A burst of calls to an upstream whose handshakes do not finish opens at most
/// `OPENING_AT_ONCE` connections at a time (not one per call: hundreds of handshakes at once
/// would each take longer than the call's time on a busy machine).
#[actix_web::test]
async fn a_burst_opens_a_few_connections_at_a_time() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    actix_rt::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            held.push(stream); // never answers the handshake
        }
    });
    // HTTP/1.1 only: no first connection to negotiate by ALPN before the others.
    let mut silent = Upstream::parse(&format!("silent=https://localhost:{port}/")).unwrap();
    silent.http = greeter::config::HttpVersion::Http1;
    let app = spawn_app_with(ServeSettings {
        workers: std::num::NonZeroUsize::MIN,
        upstreams: vec![silent],
        upstream_timeout: Duration::from_millis(600).into(),
        ..test_settings()
    });

    let calls = futures_util::future::join_all((0..64).map(|_| app.get("/aggregate")));
    let (answers, ()) = tokio::join!(calls, async {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        let opened = accepted.load(Ordering::SeqCst);
        assert!(
            (1..=greeter::api::sources::http::OPENING_AT_ONCE).contains(&opened),
            "{opened} connections opened at once"
        );
    });

    for answer in answers {
        assert_eq!(source(&answer.json(), "silent")["error"]["type"], "timeout");
    }
}
