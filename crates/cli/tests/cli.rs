//! The binary as an admin meets it: `config check`, `init`, `run` + `healthcheck`, `version`,
//! `completions`, `manpage`, `import ticket-bot`.
//!
//! Each test runs `disconcierge` in a fresh temporary directory (so no stray `.env` is read) with a
//! controlled environment.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DISCORD_TOKEN: &str = "MTA5ODc2NTQzMjEwOTg3NjU0.TOKEN-discord-SHOULD-NEVER-PRINT";
const OPENAI_TOKEN: &str = "sk-proj-TOKEN-openai-SHOULD-NEVER-PRINT";

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p =
            std::env::temp_dir().join(format!("dc-cli-{}-{:x}", std::process::id(), rand_u64()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_disconcierge"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../app/tests/fixtures")
        .join(name)
}

#[test]
fn config_check_rejects_a_bad_duration_naming_the_variable() {
    let dir = TempDir::new();
    let out = cmd(&dir.0)
        .args(["config", "check"])
        .env("DC_QUEUE_MAX_AGE", "abc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("DC_QUEUE_MAX_AGE=\"abc\""), "{all}");
    assert!(all.contains("200ms"), "{all}");
}

#[test]
fn config_check_accepts_the_seed_env_with_only_the_assistants_note() {
    let dir = TempDir::new();
    let out = cmd(&dir.0)
        .args([
            "--config",
            fixture("disconcierge-seed.env").to_str().unwrap(),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("configuration is valid"), "{all}");
    assert!(all.contains("DC_QUEUE_MAX_AGE=3m (from"), "{all}");
    assert!(all.contains("warning: DC_OPENAI_ASSISTANT_ID"), "{all}");
    // The example's secrets are placeholders, but they are still never printed.
    assert!(
        !all.contains("your-assistant-token") && !all.contains("your-discord-bot-token"),
        "{all}"
    );
    assert!(!all.contains("your-api-secret"), "{all}");
}

#[test]
fn config_check_never_prints_tokens_or_database_passwords() {
    let dir = TempDir::new();
    let out = cmd(&dir.0)
        .args(["config", "check"])
        .env("DC_DISCORD_TOKEN", DISCORD_TOKEN)
        .env("DC_OPENAI_TOKEN", OPENAI_TOKEN)
        .env("DC_DATABASE_TYPE", "postgres")
        .env(
            "DC_DATABASE",
            "postgres://dc:DBPASS-SHOULD-NEVER-PRINT@127.0.0.1:1/dc",
        )
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("DC_DISCORD_TOKEN=<set, redacted>"), "{all}");
    for secret in [DISCORD_TOKEN, OPENAI_TOKEN, "DBPASS-SHOULD-NEVER-PRINT"] {
        assert!(!all.contains(secret), "{secret} printed:\n{all}");
    }
}

#[test]
fn version_names_the_version_and_revision() {
    let dir = TempDir::new();
    let out = cmd(&dir.0).arg("version").output().unwrap();
    let all = text(&out);
    assert!(out.status.success());
    assert!(
        all.starts_with(&format!("disconcierge {} (git ", env!("CARGO_PKG_VERSION"))),
        "{all}"
    );
}

#[test]
fn completions_and_the_man_page_go_to_stdout_without_any_configuration() {
    let dir = TempDir::new();
    for (shell, marker) in [
        ("bash", "complete -F _disconcierge"),
        ("zsh", "#compdef disconcierge"),
        ("fish", "complete -c disconcierge"),
        ("elvish", "edit:completion:arg-completer[disconcierge]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = cmd(&dir.0).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", text(&out));
        assert!(out.stderr.is_empty(), "{shell}: {}", text(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
    }
    let out = cmd(&dir.0).arg("manpage").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH disconcierge 1"), "{page}");
    assert!(page.contains(".SS \"disconcierge config check\""), "{page}");

    let out = cmd(&dir.0).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("bash, elvish, fish, powershell, zsh"),
        "{}",
        text(&out)
    );
    // Nothing was read or created: they need no database and no .env.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[test]
fn migrate_dry_run_lists_what_would_be_applied_and_changes_nothing() {
    let dir = TempDir::new();
    let db = dir.0.join("disconcierge.sqlite3");
    // No database yet: it says what `migrate` would do, and creates nothing.
    let out = cmd(&dir.0).args(["migrate", "--dry-run"]).output().unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("does not exist yet"), "{all}");
    assert!(all.contains("   1  initial"), "{all}");
    assert!(
        all.contains("login failures"),
        "the newest migration is listed: {all}"
    );
    assert!(!db.exists(), "a dry run creates no database");
    // Migrated: nothing to do, and still nothing changed.
    let out = cmd(&dir.0).args(["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = cmd(&dir.0).args(["migrate", "--dry-run"]).output().unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("Nothing to do: schema current"), "{all}");
}

#[test]
fn init_creates_the_database_and_one_admin_and_refuses_a_duplicate() {
    let dir = TempDir::new();
    let run = |user: &str, password: &str| {
        let mut child = cmd(&dir.0)
            .args(["init", "--admin-user", user, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("admin", "a long enough password");
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("admin account \"admin\" created"), "{all}");
    assert!(dir.0.join("disconcierge.sqlite3").is_file());
    assert!(!all.contains("a long enough password"));

    let out = run("ADMIN", "another long password");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("already exists"), "{}", text(&out));

    let out = run("second", "short");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("at least 10 characters"),
        "{}",
        text(&out)
    );
}

/// The end of the child's stderr: heard once it is closed and everything written to it is in the log.
type StderrRead = std::sync::mpsc::Receiver<()>;

/// Reads the child's stderr into `log`, to its end; returns the address the API announces, once it does.
fn wait_for_listen(
    child: &mut Child,
    log: &std::sync::Arc<std::sync::Mutex<String>>,
) -> (String, StderrRead) {
    let stderr = child.stderr.take().unwrap();
    let log2 = log.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let (read_tx, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            log2.lock().unwrap().push_str(&line);
            if let Some(i) = line.find("listening on ").filter(|_| !sent) {
                let url = line[i + "listening on ".len()..].trim().to_string();
                let _ = tx.send(url);
                sent = true;
            }
            line.clear();
        }
        let _ = read_tx.send(());
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no listen line; log so far:\n{}", log.lock().unwrap()));
    (url, read)
}

#[test]
fn run_starts_without_credentials_says_what_is_missing_and_stops_on_sigterm() {
    let dir = TempDir::new();
    let mut child = cmd(&dir.0)
        .arg("run")
        .env("DC_API_LISTEN", "127.0.0.1:0")
        .env("DC_LOG_FORMAT", "text")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (url, stderr_read) = wait_for_listen(&mut child, &log);

    let health = cmd(&dir.0)
        .args(["healthcheck", "--url", &format!("{url}/readyz")])
        .output()
        .unwrap();
    assert!(health.status.success(), "{}", text(&health));
    assert!(dir.0.join("disconcierge.sqlite3").is_file());

    stop(&mut child, stderr_read);
    let all = log.lock().unwrap().clone();
    let missing: Vec<_> = all
        .lines()
        .filter(|l| l.contains("not configured yet"))
        .collect();
    assert_eq!(missing.len(), 1, "{all}");
    assert!(
        missing[0].contains("DC_DISCORD_TOKEN") && missing[0].contains("DC_OPENAI_TOKEN"),
        "{all}"
    );
    assert!(all.contains("stopped"), "{all}");

    // The port is closed now: the probe fails with a clear message and exit code 1.
    let health = cmd(&dir.0)
        .args([
            "healthcheck",
            "--url",
            &format!("{url}/readyz"),
            "--timeout",
            "2s",
        ])
        .output()
        .unwrap();
    assert_eq!(health.status.code(), Some(1));
    assert!(
        text(&health).contains("Is disconcierge running"),
        "{}",
        text(&health)
    );
}

#[test]
fn run_never_logs_the_tokens() {
    let dir = TempDir::new();
    let mut child = cmd(&dir.0)
        .arg("run")
        .env("DC_API_LISTEN", "127.0.0.1:0")
        .env("DC_DISCORD_TOKEN", DISCORD_TOKEN)
        .env("DC_OPENAI_TOKEN", OPENAI_TOKEN)
        .env("DC_API_SECRET", "API-SECRET-SHOULD-NEVER-PRINT")
        .env("DC_LOG_LEVEL", "TRACE")
        .env("DC_DATABASE_LOG_LEVEL", "TRACE")
        .env("DC_LOG_FORMAT", "json")
        .env("DC_LOG_FILE", "logs/disconcierge.log")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (_url, stderr_read) = wait_for_listen(&mut child, &log);
    stop(&mut child, stderr_read);
    // DC_LOG_FILE: the same lines in today's file (`disconcierge.log.YYYY-MM-DD`), its directory
    // created; no secret there either.
    let files: Vec<_> = std::fs::read_dir(dir.0.join("logs"))
        .expect("DC_LOG_FILE's directory was created")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("disconcierge.log.20"), "{name}");
    let in_file = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        in_file.contains(r#""level":"#) && in_file.contains("listening"),
        "the log file holds the run's json lines:\n{in_file}"
    );
    for secret in [DISCORD_TOKEN, OPENAI_TOKEN, "API-SECRET-SHOULD-NEVER-PRINT"] {
        assert!(!in_file.contains(secret), "{secret} in the log file");
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let all = format!("{stdout}{}", log.lock().unwrap());
    assert!(all.contains(r#""level":"#), "json logs expected:\n{all}");
    for secret in [DISCORD_TOKEN, OPENAI_TOKEN, "API-SECRET-SHOULD-NEVER-PRINT"] {
        assert!(!all.contains(secret), "{secret} logged:\n{all}");
    }
}

/// Stops the child with SIGTERM; returns once it has exited cleanly and its stderr is read to the end.
fn stop(child: &mut Child, stderr_read: StderrRead) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            stderr_read
                .recv_timeout(Duration::from_secs(10))
                .expect("the child's stderr read to its end within 10 s of its exit");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_database_connection_error_names_the_place_but_not_the_password() {
    let dir = TempDir::new();
    // Nothing listens on port 1: the connection is refused at once.
    let out = cmd(&dir.0)
        .arg("run")
        .env("DC_API_LISTEN", "127.0.0.1:0")
        .env("DC_DATABASE_TYPE", "postgres")
        .env(
            "DC_DATABASE",
            "postgres://dc:DBPASS-SHOULD-NEVER-PRINT@127.0.0.1:1/dc",
        )
        .env("DC_STARTUP_TIMEOUT", "10s")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("postgres://dc:***@127.0.0.1:1/dc"), "{all}");
    assert!(!all.contains("DBPASS-SHOULD-NEVER-PRINT"), "{all}");
}

#[test]
fn the_log_file_keeps_the_newest_days_only() {
    let dir = TempDir::new();
    let logs = dir.0.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Five earlier days' files, as the daily rotation left them.
    for day in 1..=5 {
        std::fs::write(
            logs.join(format!("disconcierge.log.2026-11-0{day}")),
            "old\n",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(20)); // distinct creation times
    }
    let mut child = cmd(&dir.0)
        .arg("run")
        .env("DC_API_LISTEN", "127.0.0.1:0")
        .env("DC_LOG_FILE", "logs/disconcierge.log")
        .env("DC_LOG_FILE_KEEP", "3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (_url, stderr_read) = wait_for_listen(&mut child, &log);
    stop(&mut child, stderr_read);
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "the newest 3 files are kept: {names:?}");
    assert!(
        names[..2] == ["disconcierge.log.2026-11-04", "disconcierge.log.2026-11-05"],
        "{names:?}"
    );
    assert!(
        names[2].as_str() > "disconcierge.log.2026-11-05",
        "today's file: {names:?}"
    );
}

#[test]
fn import_ticket_bot_brings_the_training_db_over_once() {
    let dir = TempDir::new();
    let db = dir.0.join("training.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(disconcierge_store::testing::write_ticket_bot_db(
            &db,
            &[
                disconcierge_store::testing::OldTrainingRow {
                    guild_id: Some(42),
                    query: "How do I reset my password?",
                    response: "Use the Forgot password link.",
                    category: "account",
                    tags: r#"["password"]"#,
                    usage_count: 7,
                },
                disconcierge_store::testing::OldTrainingRow {
                    guild_id: Some(43),
                    query: "Another server?",
                    response: "Yes.",
                    category: "general",
                    tags: "[]",
                    usage_count: 0,
                },
            ],
        ));
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "ticket-bot",
            "--db",
            "training.db",
            "--guild",
            "42",
        ];
        args.extend_from_slice(extra);
        cmd(&dir.0).args(&args).output().unwrap()
    };
    let dry = import(&["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("2 rows read: 1 trained answer; dry run, nothing written"),
        "{}",
        text(&dry)
    );
    let first = import(&[]);
    assert!(first.status.success(), "{}", text(&first));
    let out = text(&first);
    assert!(out.contains("1 new, 0 already there"), "{out}");
    assert!(
        out.contains("1 row of server 43 left out: import them with --guild 43"),
        "{out}"
    );
    let again = import(&[]);
    assert!(
        text(&again).contains("0 new, 1 already there"),
        "{}",
        text(&again)
    );
    let missing = cmd(&dir.0)
        .args(["import", "ticket-bot", "--db", "nope.db", "--guild", "42"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("there is no such file")
            && text(&missing).contains("nothing was imported"),
        "{}",
        text(&missing)
    );
}
