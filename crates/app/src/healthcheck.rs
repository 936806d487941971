//! `disconcierge healthcheck`: probes a running instance, for container health checks.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "no answer from {url}: {reason}. Is disconcierge running and listening there (DC_API_LISTEN)?"
    )]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}: {body}")]
    NotReady {
        url: String,
        status: u16,
        body: String,
    },
}

/// The URL to probe for a listen address: `0.0.0.0`/`::` mean "every interface", so probe loopback.
pub fn probe_url(listen: std::net::SocketAddr, tls: bool, path: &str) -> String {
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!(
        "{}://{host}:{}{path}",
        if tls { "https" } else { "http" },
        listen.port()
    )
}

/// GETs `url`; Ok with the body on 2xx.
pub async fn probe(url: &str, timeout: Duration) -> Result<String, ProbeError> {
    // The probe talks to our own listener, usually by IP with a certificate issued for a host name, so
    // the certificate cannot be verified here; only the status code is used, never trusted data.
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .tls_danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| ProbeError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| ProbeError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(body)
    } else {
        Err(ProbeError::NotReady {
            url: url.to_string(),
            status: status.as_u16(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_loopback_for_wildcard_listeners() {
        assert_eq!(
            probe_url("0.0.0.0:5000".parse().unwrap(), false, "/readyz"),
            "http://127.0.0.1:5000/readyz"
        );
        assert_eq!(
            probe_url("[::]:5000".parse().unwrap(), true, "/healthz"),
            "https://[::1]:5000/healthz"
        );
        assert_eq!(
            probe_url("10.0.0.2:80".parse().unwrap(), false, "/x"),
            "http://10.0.0.2:80/x"
        );
    }
}
