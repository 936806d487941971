//! Tests of the settings: every `DC_*` variable's parsing, defaults, errors and the files written from
//! the table.

use super::*;
use std::io::Write;

fn load(env: &[(&str, &str)]) -> Result<Loaded, SettingsError> {
    let sources = Sources::from_parts(
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        None,
    )
    .unwrap();
    Settings::load(&sources)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn defaults_are_disconcierge_defaults() {
    let loaded = load(&[]).unwrap();
    let s = &loaded.settings;
    assert_eq!(s.database.connect.kind, DatabaseKind::Sqlite);
    assert_eq!(s.database.connect.url_or_path, "disconcierge.sqlite3");
    assert_eq!(
        s.database.connect.slow_threshold,
        Duration::from_millis(200)
    );
    assert_eq!(s.queue.size, 100);
    assert_eq!(s.queue.max_age, Duration::from_secs(180));
    assert_eq!(s.discord.gateway_intents, None, "auto");
    assert_eq!(s.api.listen, "127.0.0.1:5000".parse().unwrap());
    assert_eq!(s.api.session_max_age, Duration::from_secs(6 * 3600));
    assert_eq!(s.api.cors.max_age, Duration::from_secs(12 * 3600));
    assert!(s.api.cors.allow_credentials);
    assert!(!s.webhook.enabled);
    assert_eq!(s.shutdown_timeout, Duration::from_secs(60));
    assert_eq!(s.llm.provider, LlmProvider::OpenAi);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(s.missing().len(), 2);
}

#[test]
fn a_bad_duration_names_the_variable_the_value_and_the_accepted_forms() {
    let err = load(&[("DC_QUEUE_MAX_AGE", "abc")]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("DC_QUEUE_MAX_AGE=\"abc\""), "{text}");
    assert!(text.contains("200ms"), "{text}");
    match err {
        SettingsError::Invalid(v) => assert_eq!(v.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = load(&[
        ("DC_QUEUE_SIZE", "-3"),
        ("DC_API_LISTEN", "nowhere"),
        ("DC_DATABASE_TYPE", "mongo"),
        ("DC_LOG_LEVEL", "loud"),
        ("DC_DEVELOPMENT", "maybe"),
    ])
    .unwrap_err();
    let SettingsError::Invalid(v) = err else {
        panic!()
    };
    let mut vars: Vec<_> = v.iter().map(|e| e.var).collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "DC_API_LISTEN",
            "DC_DATABASE_TYPE",
            "DC_DEVELOPMENT",
            "DC_LOG_LEVEL",
            "DC_QUEUE_SIZE"
        ]
    );
}

#[test]
fn the_seed_env_file_is_accepted_unchanged_with_the_assistants_note() {
    let sources = Sources::from_parts(Vec::new(), Some(&fixture("disconcierge-seed.env"))).unwrap();
    let loaded = Settings::load(&sources).unwrap();
    let s = &loaded.settings;
    assert_eq!(
        s.database.connect.url_or_path,
        "/home/foo/disconcierge.sqlite3"
    );
    assert_eq!(s.queue.max_age, Duration::from_secs(180));
    assert_eq!(s.queue.sleep_paused, Duration::from_secs(5));
    assert!(s.development);
    assert_eq!(s.log.levels[&LogComponent::Discord], LogLevel::Warn);
    assert_eq!(
        s.api.cors.allow_origins,
        ["https://127.0.0.1:5000", "https://localhost:5000"]
    );
    assert_eq!(s.api.cors.allow_methods.len(), 7);
    assert!(s.api.tls.is_some());
    let assistants: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|w| w.contains("DC_OPENAI_ASSISTANT_ID"))
        .collect();
    assert_eq!(assistants.len(), 1, "{:?}", loaded.warnings);
    assert!(assistants[0].contains("Responses API") && assistants[0].contains("DC_OPENAI_MODEL"));
    // The seed's placeholder application id is "not configured yet", not an error.
    assert_eq!(s.discord.application_id, None);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("DC_DISCORD_APPLICATION_ID still holds the placeholder"))
    );
}

#[test]
fn secrets_never_appear_in_errors_debug_or_effective_values() {
    let token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.SECRET-discord";
    let openai = "sk-proj-SECRET-openai-123";
    let api = "SECRET-api-secret";
    let env = [
        ("DC_DISCORD_TOKEN", token),
        ("DC_OPENAI_TOKEN", openai),
        ("DC_API_SECRET", api),
        ("DC_DATABASE_TYPE", "postgres"),
        ("DC_DATABASE", "postgres://dc:SECRET-pw@db:5432/dc"),
    ];
    let loaded = load(&env).unwrap();
    let dump = format!(
        "{:?} {:?} {:?}",
        loaded.settings, loaded.effective, loaded.warnings
    );
    for secret in [token, openai, api, "SECRET-pw"] {
        assert!(!dump.contains(secret), "{secret} leaked in {dump}");
    }
    assert!(dump.contains("postgres://dc:***@db:5432/dc"));

    // An error about a bad value next to the secrets does not show them either.
    let mut bad = env.to_vec();
    bad.push(("DC_QUEUE_MAX_AGE", "abc"));
    let text = format!("{}", load(&bad).unwrap_err());
    for secret in [token, openai, api, "SECRET-pw"] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
}

#[test]
fn environment_wins_over_the_file_and_unknown_names_are_flagged() {
    let dir = std::env::temp_dir().join(format!("dc-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("test.env");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(
        f,
        "DC_QUEUE_SIZE=7\nDC_QUEUE_SIZ=9\nDC_LOG_LEVEL=DEBUG\nOTHER=1"
    )
    .unwrap();
    drop(f);
    let sources = Sources::from_parts(
        [("DC_QUEUE_SIZE".to_string(), "11".to_string())],
        Some(&path),
    )
    .unwrap();
    let loaded = Settings::load(&sources).unwrap();
    assert_eq!(loaded.settings.queue.size, 11);
    assert_eq!(
        loaded.settings.log.levels[&LogComponent::General],
        LogLevel::Debug
    );
    let typo = loaded
        .warnings
        .iter()
        .find(|w| w.contains("DC_QUEUE_SIZ "))
        .expect("typo warning");
    assert!(typo.contains("Did you mean DC_QUEUE_SIZE?"), "{typo}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let err = Sources::from_parts(Vec::new(), Some(Path::new("/nonexistent/dc.env"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not read the configuration file /nonexistent/dc.env: the file does not exist"
    );
}

#[test]
fn listen_addresses_in_go_and_rust_forms() {
    assert_eq!(parse_listen(":5000"), Some("0.0.0.0:5000".parse().unwrap()));
    assert_eq!(
        parse_listen("127.0.0.1:0"),
        Some("127.0.0.1:0".parse().unwrap())
    );
    assert_eq!(parse_listen("[::1]:80"), Some("[::1]:80".parse().unwrap()));
    assert!(parse_listen("localhost:5000").is_some());
    assert_eq!(parse_listen("5000"), None);
    assert_eq!(parse_listen("host:port"), None);
}

#[test]
fn older_names_still_work_with_a_hint() {
    let loaded = load(&[
        ("DC_DISCORD_WEBHOOK_LISTEN", "127.0.0.1:7000"),
        ("DC_OPENAI_LOG_LEVEL", "DEBUG"),
    ])
    .unwrap();
    assert_eq!(
        loaded.settings.webhook.listen,
        "127.0.0.1:7000".parse().unwrap()
    );
    assert_eq!(
        loaded.settings.log.levels[&LogComponent::Llm],
        LogLevel::Debug
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("DC_DISCORD_WEBHOOK_LISTEN is an older name"))
    );
}

#[test]
fn the_webhook_needs_a_public_key_when_enabled() {
    let err = load(&[("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true")]).unwrap_err();
    assert!(
        err.to_string()
            .contains("DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY"),
        "{err}"
    );
    let key = "a".repeat(64);
    load(&[
        ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ("DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY", &key),
    ])
    .unwrap();
}

#[test]
fn queue_age_must_fit_in_an_interaction_token() {
    let err = load(&[("DC_QUEUE_MAX_AGE", "20m")]).unwrap_err();
    assert!(err.to_string().contains("15 minutes"), "{err}");
}

#[test]
fn env_example_documents_every_variable() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.env.example");
    let text = std::fs::read_to_string(&path).expect(".env.example at the repository root");
    for spec in VARS {
        assert!(
            text.lines().any(|l| l
                .trim_start_matches("# ")
                .starts_with(&format!("{}=", spec.name))),
            "{} is not documented in .env.example",
            spec.name
        );
    }
}

#[test]
fn committed_env_example_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.env.example");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == vars::example_env(),
        ".env.example is stale: regenerate it with `cargo run -- config example > .env.example`"
    );
    // And it parses as a dotenv file that yields the defaults.
    let sources = Sources::from_parts(Vec::new(), Some(&path)).unwrap();
    let loaded = Settings::load(&sources).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn cors_settings_are_checked_before_anything_serves() {
    let ok = load(&[(
        "DC_API_CORS_ALLOW_ORIGINS",
        "https://admin.example.com http://localhost:3000",
    )])
    .unwrap();
    assert_eq!(
        ok.settings.api.cors.allow_origins,
        ["https://admin.example.com", "http://localhost:3000"]
    );
    assert!(
        ok.settings
            .api
            .cors
            .allow_methods
            .contains(&"PUT".to_string())
    );
    assert!(
        load(&[])
            .unwrap()
            .settings
            .api
            .cors
            .allow_origins
            .is_empty()
    );
    assert!(
        load(&[
            ("DC_API_CORS_ALLOW_ORIGINS", "*"),
            ("DC_API_CORS_ALLOW_CREDENTIALS", "false"),
        ])
        .is_ok()
    );

    let cases = [
        (
            vec![(
                "DC_API_CORS_ALLOW_ORIGINS",
                "https://admin.example.com/panel",
            )],
            "is not an origin",
        ),
        (
            vec![("DC_API_CORS_ALLOW_ORIGINS", "admin.example.com")],
            "e.g. https://admin.example.com",
        ),
        (
            vec![("DC_API_CORS_ALLOW_ORIGINS", "*")],
            "cannot be combined with DC_API_CORS_ALLOW_CREDENTIALS=true",
        ),
        (
            vec![("DC_API_CORS_ALLOW_METHODS", "GET P@ST")],
            "\"P@ST\" is not an HTTP method",
        ),
        (
            vec![("DC_API_CORS_ALLOW_HEADERS", "Content-Type *")],
            "\"*\" is not a header name",
        ),
    ];
    for (env, expected) in cases {
        let text = load(&env).unwrap_err().to_string();
        assert!(text.contains(expected), "{env:?}: {text}");
    }
}

#[test]
fn trusted_proxies_are_addresses_or_networks() {
    let loaded = load(&[("DC_API_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ::1")]).unwrap();
    let nets: Vec<String> = loaded
        .settings
        .api
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
    assert!(load(&[]).unwrap().settings.api.trusted_proxies.is_empty());
    let text = load(&[("DC_API_TRUSTED_PROXIES", "10.0.0.0/8 nginx")])
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("DC_API_TRUSTED_PROXIES") && text.contains("\"nginx\" is neither"),
        "{text}"
    );
}

#[test]
fn the_shard_lease_is_bounded() {
    let s = load(&[]).unwrap().settings;
    assert_eq!(s.discord.gateway_shard_lease, Duration::from_secs(15));
    let text = load(&[("DC_DISCORD_GATEWAY_SHARD_LEASE", "200ms")])
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("DC_DISCORD_GATEWAY_SHARD_LEASE") && text.contains("between 1s and 5m"),
        "{text}"
    );
}

#[test]
fn gateway_intents_are_auto_or_a_bit_set() {
    let intents = |v: &str| {
        load(&[("DC_DISCORD_GATEWAY_INTENTS", v)]).map(|l| l.settings.discord.gateway_intents)
    };
    assert_eq!(intents("auto").unwrap(), None);
    assert_eq!(intents("AUTO").unwrap(), None);
    assert_eq!(intents("3276541").unwrap(), Some(3_276_541));
    let err = intents("all").unwrap_err().to_string();
    assert!(
        err.contains("DC_DISCORD_GATEWAY_INTENTS=\"all\"") && err.contains("expected auto"),
        "{err}"
    );
}
