//! The `disconcierge` command line: the binary's edge, where errors become messages and exit codes.

mod generate;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use disconcierge_app::settings::{Loaded, Settings, Sources, vars};
use disconcierge_app::{Application, admin, healthcheck, telemetry};
use disconcierge_core::parse_duration;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

#[derive(Parser)]
#[command(name = "disconcierge", version = version_line(), about = "A Discord AI concierge and support desk.")]
struct Cli {
    /// Dotenv file to read (default: .env in the current directory, if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot: database, admin API, Discord and the LLM workers.
    Run,
    /// Create or migrate the database and create an admin account.
    Init {
        /// Admin account to create (prompted for when omitted on a terminal).
        #[arg(long, value_name = "NAME")]
        admin_user: Option<String>,
        /// Read the admin password from the first line of standard input.
        #[arg(long, conflicts_with = "password_env")]
        password_stdin: bool,
        /// Read the admin password from this environment variable.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate {
        /// List what would be applied, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Probe a running instance (exit 0 when ready), for container health checks.
    Healthcheck {
        /// URL to probe (default: /readyz on DC_API_LISTEN).
        #[arg(long)]
        url: Option<String>,
        /// Probe liveness (/healthz) instead of readiness (/readyz).
        #[arg(long)]
        live: bool,
        /// How long to wait for an answer.
        #[arg(long, default_value = "5s", value_parser = |s: &str| parse_duration(s))]
        timeout: std::time::Duration,
    },
    /// Print the version and git revision.
    Version,
    /// Print a shell completion script to standard output.
    ///
    /// For example: disconcierge completions bash > /etc/bash_completion.d/disconcierge (bash), or
    /// disconcierge completions zsh > ~/.zfunc/_disconcierge (zsh, with ~/.zfunc in fpath).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output.
    ///
    /// For example: disconcierge manpage > /usr/local/share/man/man1/disconcierge.1 to install it, or
    /// disconcierge manpage | man -l - to read it.
    Manpage,
    /// Bring data over from another bot.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// The Python ticket bot's trained answers (its data/training.db and exported JSON files), into one
    /// server. Checked completely first, written all or nothing; running it again adds nothing.
    TicketBot {
        /// The ticket bot's SQLite database (DB_PATH in its .env; data/training.db by default).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// A JSON file exported by the ticket bot (/export_training); repeat for several.
        #[arg(long, value_name = "FILE")]
        json: Vec<PathBuf>,
        /// The Discord server (guild) id the answers are for.
        #[arg(long, value_name = "ID")]
        guild: u64,
        /// Read and check everything, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values (secrets redacted).
    Check,
    /// Print a documented .env with every variable and its default.
    Example,
}

fn version_line() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (git ",
        env!("DC_GIT_REVISION"),
        ")"
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // One async worker thread unless `TOKIO_WORKER_THREADS` (read by tokio) asks for more. The bot's
    // requests are many small steps that wait on SQLite's threads, Discord and the model; with a second
    // worker, most hand-offs woke the idle one only to find nothing to do. Measured (BENCHMARKS.md): 13 %
    // less CPU per `/chat` and lower acknowledgement latency at 500/s. CPU-heavy work (password hashing)
    // runs on the blocking pool, and every SQLite connection has a thread of its own.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            let message = describe(&e);
            if LOGGING.get().is_some() {
                tracing::error!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Set once the logger is installed: from then on errors go to the log (text or JSON), not raw stderr.
static LOGGING: OnceLock<()> = OnceLock::new();

fn init_logging(settings: &Settings) -> Result<telemetry::TelemetryHandle> {
    let handle = telemetry::init(&settings.log)?;
    let _ = LOGGING.set(());
    Ok(handle)
}

/// The error and its causes on one line. Our error messages already include their cause's text, so a
/// cause whose text is already there is not repeated.
fn describe(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn load(config: Option<&std::path::Path>) -> Result<Loaded> {
    let sources = Sources::from_process(config)?;
    Ok(Settings::load(&sources)?)
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Version => {
            println!("disconcierge {}", version_line());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            print_bytes(&generate::completions(Cli::command(), shell))
        }
        Command::Manpage => print_bytes(&generate::manpage(Cli::command())?),
        Command::Import {
            command:
                ImportCommand::TicketBot {
                    db,
                    json,
                    guild,
                    dry_run,
                },
        } => {
            let loaded = load(cli.config.as_deref())?;
            init_logging(&loaded.settings)?;
            let store = disconcierge_app::open_store(&loaded.settings).await?;
            store.migrate().await?;
            let result = disconcierge_app::ticket_bot_import::import(
                store.as_ref(),
                db.as_deref(),
                &json,
                guild,
                dry_run,
            )
            .await;
            store.close().await;
            println!("{}", result?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", vars::example_env());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(cli.config.as_deref()),
        Command::Run => {
            let mut loaded = load(cli.config.as_deref())?;
            loaded.settings.version = version_line().to_string();
            let telemetry = Arc::new(init_logging(&loaded.settings)?);
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            // Before anything slow: a SIGTERM during startup must stop us gracefully, not kill us.
            let shutdown = disconcierge_app::shutdown_signal();
            let app = Application::build(loaded.settings, Some(telemetry)).await?;
            app.run(shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { dry_run: true } => {
            let loaded = load(cli.config.as_deref())?;
            init_logging(&loaded.settings)?;
            migrate_dry_run(&loaded.settings).await
        }
        Command::Migrate { dry_run: false } => {
            let loaded = load(cli.config.as_deref())?;
            init_logging(&loaded.settings)?;
            let store = disconcierge_app::open_store(&loaded.settings).await?;
            let report = store.migrate().await?;
            println!("{}", disconcierge_app::describe_migrations(&report.status));
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init {
            admin_user,
            password_stdin,
            password_env,
        } => {
            init(
                cli.config.as_deref(),
                admin_user,
                password_stdin,
                password_env,
            )
            .await
        }
        Command::Healthcheck { url, live, timeout } => {
            let url = match url {
                Some(u) => u,
                None => {
                    let loaded = load(cli.config.as_deref())?;
                    let api = &loaded.settings.api;
                    healthcheck::probe_url(
                        api.listen,
                        api.tls.is_some(),
                        if live { "/healthz" } else { "/readyz" },
                    )
                }
            };
            match healthcheck::probe(&url, timeout).await {
                Ok(_) => {
                    println!("ok: {url}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Generated text to standard output. A reader that stops early (`| head`) is not an error; any other
/// failed write is one (not a panic, as with `print!`).
fn print_bytes(bytes: &[u8]) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("could not write to standard output")
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn config_check(config: Option<&std::path::Path>) -> Result<ExitCode> {
    let sources = Sources::from_process(config)?;
    match &sources.file {
        Some(f) => println!("# configuration file: {}", f.display()),
        None => println!("# configuration file: none (no .env in the current directory)"),
    }
    let loaded = match Settings::load(&sources) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for (name, shown, _) in &loaded.effective {
        println!("{name}={shown}");
    }
    for w in &loaded.warnings {
        println!("warning: {w}");
    }
    for m in loaded.settings.missing() {
        println!("to configure: {m}");
    }
    println!("configuration is valid");
    Ok(ExitCode::SUCCESS)
}

async fn init(
    config: Option<&std::path::Path>,
    admin_user: Option<String>,
    password_stdin: bool,
    password_env: Option<String>,
) -> Result<ExitCode> {
    let loaded = load(config)?;
    init_logging(&loaded.settings)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let store = disconcierge_app::open_store(&loaded.settings).await?;
    let report = store.migrate().await?;
    println!(
        "database {}: {}",
        loaded.settings.database.display(),
        disconcierge_app::describe_migrations(&report.status)
    );

    let interactive = std::io::stdin().is_terminal() && !password_stdin && password_env.is_none();
    let username = match admin_user {
        Some(u) => u,
        None if interactive => prompt("Admin username: ")?,
        None => {
            let admins = store.count_admins().await?;
            store.close().await;
            if admins == 0 {
                bail!(
                    "no admin account exists yet and none was requested; run `disconcierge init` on a terminal, or \
                     pass --admin-user NAME with --password-stdin or --password-env VAR"
                );
            }
            println!("{admins} admin account(s) exist; no new one created");
            return Ok(ExitCode::SUCCESS);
        }
    };
    admin::validate_username(&username)?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(var) = password_env {
        std::env::var(&var).with_context(|| {
            format!("the environment variable {var} (from --password-env) is not set")
        })?
    } else if interactive {
        let first = rpassword::prompt_password("Admin password: ")?;
        admin::validate_password(&first)?;
        let second = rpassword::prompt_password("Repeat the password: ")?;
        if first != second {
            bail!("the two passwords differ; nothing was created, run `disconcierge init` again");
        }
        first
    } else {
        bail!(
            "no password given for {username:?}: use --password-stdin or --password-env VAR (or run on a terminal)"
        );
    };
    let account = admin::create_admin(store.as_ref(), &username, &password).await?;
    store.close().await;
    println!(
        "admin account {:?} created; sign in at {}/disconcierge",
        account.username,
        admin_url(&loaded.settings)
    );
    Ok(ExitCode::SUCCESS)
}

/// `migrate --dry-run`: what `migrate` would apply, read without changing anything (a SQLite file that
/// does not exist yet is not created).
async fn migrate_dry_run(settings: &Settings) -> Result<ExitCode> {
    let kind = settings.database.connect.kind;
    let known = disconcierge_store::known_migrations(kind);
    let describe = |versions: &[i64]| -> String {
        versions
            .iter()
            .map(|v| {
                let what = known
                    .iter()
                    .find(|(k, _)| k == v)
                    .map(|(_, d)| d.as_str())
                    .unwrap_or("?");
                format!("  {v:>4}  {what}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if kind == disconcierge_store::DatabaseKind::Sqlite
        && !std::path::Path::new(&settings.database.connect.url_or_path).exists()
    {
        let all: Vec<i64> = known.iter().map(|(v, _)| *v).collect();
        println!(
            "{} does not exist yet: `disconcierge migrate` would create it and apply {} migrations:\n{}",
            settings.database.display(),
            all.len(),
            describe(&all)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = disconcierge_app::open_store(settings).await?;
    let status = store.migration_status().await;
    store.close().await;
    let status = status?;
    if !status.unknown.is_empty() {
        println!("{}", disconcierge_app::describe_migrations(&status));
        return Ok(ExitCode::from(1));
    }
    if status.pending.is_empty() {
        println!(
            "Nothing to do: {}.",
            disconcierge_app::describe_migrations(&status)
        );
    } else {
        println!(
            "`disconcierge migrate` would apply {} migration(s) to {} (nothing was changed):\n{}",
            status.pending.len(),
            settings.database.display(),
            describe(&status.pending)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn admin_url(settings: &Settings) -> String {
    settings.api.external_url.clone().unwrap_or_else(|| {
        healthcheck::probe_url(settings.api.listen, settings.api.tls.is_some(), "")
    })
}

fn prompt(question: &str) -> Result<String> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}
