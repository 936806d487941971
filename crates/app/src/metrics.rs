//! Prometheus metrics, one registry per application (so that tests can run several side by side).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub listener: &'static str,
    pub route: String,
    pub method: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub database_up: Gauge,
    pub database_ping_seconds: Gauge<f64, AtomicU64>,
    pub migrations_pending: Gauge,
    pub queue_depth: Gauge,
    pub runtime_config_version: Gauge,
    pub paused: Gauge,
    pub start_time_seconds: Gauge,
}

impl Metrics {
    pub fn new(instance_id: &str) -> Metrics {
        let mut registry = Registry::with_prefix("disconcierge");
        registry.register(
            "build",
            "Version and revision of this binary",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION").to_string()),
                ("instance", instance_id.to_string()),
            ]),
        );
        let m = Metrics {
            http_requests: Family::default(),
            database_up: Gauge::default(),
            database_ping_seconds: Gauge::default(),
            migrations_pending: Gauge::default(),
            queue_depth: Gauge::default(),
            runtime_config_version: Gauge::default(),
            paused: Gauge::default(),
            start_time_seconds: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by listener, route and status",
            m.http_requests.clone(),
        );
        registry.register(
            "database_up",
            "1 when the last database ping succeeded",
            m.database_up.clone(),
        );
        registry.register(
            "database_ping_seconds",
            "Latency of the last database ping",
            m.database_ping_seconds.clone(),
        );
        registry.register(
            "migrations_pending",
            "Migrations known to this binary but not applied",
            m.migrations_pending.clone(),
        );
        registry.register(
            "queue_depth",
            "Chat commands waiting in the queue",
            m.queue_depth.clone(),
        );
        registry.register(
            "runtime_config_version",
            "Version of the runtime configuration in force",
            m.runtime_config_version.clone(),
        );
        registry.register("paused", "1 while the bot is paused", m.paused.clone());
        registry.register(
            "start_time_seconds",
            "Start time of the process, seconds since the Unix epoch",
            m.start_time_seconds.clone(),
        );
        m.start_time_seconds.set(chrono::Utc::now().timestamp());
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text exposition, as Prometheus scrapes it.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_what_it_counts() {
        let m = Metrics::new("test-1");
        m.http_requests
            .get_or_create(&HttpLabels {
                listener: "api",
                route: "/healthz".into(),
                method: "GET".into(),
                status: 200,
            })
            .inc();
        m.queue_depth.set(3);
        let text = m.encode();
        assert!(text.contains(r#"disconcierge_http_requests_total{listener="api",route="/healthz",method="GET",status="200"} 1"#), "{text}");
        assert!(text.contains("disconcierge_queue_depth 3"), "{text}");
        assert!(
            text.contains(r#"disconcierge_build_info{version=""#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
