//! Serving a router on a bound listener, over plain HTTP or TLS, with timeouts and graceful shutdown.
//!
//! Listeners are bound in `Application::build` (so that port 0 works and the address is known before
//! running) and served here. On shutdown the server stops accepting, lets requests in flight finish within
//! the grace period, then closes.

use crate::keep_alive::IdleAcceptor;
use crate::settings::{HttpTimeouts, TlsSettings, TlsVersion};
use axum::Router;
use axum::http::StatusCode;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "could not load the TLS certificate {cert} / key {key}: {reason}. Check that both files exist, are PEM, and belong together"
    )]
    Tls {
        cert: String,
        key: String,
        reason: String,
    },
    #[error("the {listener} listener failed: {source}")]
    Io {
        listener: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Builds the rustls configuration for a listener.
pub fn tls_config(tls: &TlsSettings) -> Result<rustls::ServerConfig, ServeError> {
    let err = |reason: String| ServeError::Tls {
        cert: tls.cert_file.display().to_string(),
        key: tls.key_file.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert_file)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("the certificate file holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).map_err(|e| err(e.to_string()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains for at most `grace`.
pub async fn serve(
    name: &'static str,
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<rustls::ServerConfig>,
    timeouts: HttpTimeouts,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), ServeError> {
    let io = |source| ServeError::Io {
        listener: name,
        source,
    };
    let router = router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.write,
        ))
        .layer(RequestBodyTimeoutLayer::new(timeouts.read));
    let handle = axum_server::Handle::new();
    let watcher = {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            handle.graceful_shutdown(Some(grace));
        })
    };
    listener.set_nonblocking(true).map_err(io)?;
    // hyper's one timer (waiting for a request and reading its headers) as a backstop; the two apart
    // are kept by `IdleAcceptor`.
    let header_timeout = timeouts.idle + timeouts.read_header;
    let result = match tls {
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(io)?
                .acceptor(IdleAcceptor::new(
                    NoDelayAcceptor,
                    timeouts.idle,
                    timeouts.read_header,
                ))
                .handle(handle);
            configure(server.http_builder(), header_timeout);
            server
                .serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
        }
        Some(config) => {
            let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(config)))
                .acceptor(NoDelayAcceptor);
            let mut server = axum_server::from_tcp(listener)
                .map_err(io)?
                .acceptor(IdleAcceptor::new(
                    acceptor,
                    timeouts.idle,
                    timeouts.read_header,
                ))
                .handle(handle);
            configure(server.http_builder(), header_timeout);
            server
                .serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
        }
    };
    watcher.abort();
    result.map_err(io)
}

fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    header_timeout: Duration,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
}
