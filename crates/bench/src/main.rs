//! The bench command. It measures the real, release-built `disconcierge` binary, run as its own process
//! against the Discord and LLM simulators of this workspace (in this process), and prints figures; it
//! asserts nothing. Figures and the command that produced them go into `BENCHMARKS.md`.
//!
//! ```text
//! scripts/bench.sh chat                       # builds both in release, then runs the chat bench
//! scripts/bench.sh admin                      # admin page loads on 1,000,000 chat commands
//! scripts/bench.sh retrieval                  # support-desk retrieval at 1,000 / 10,000 / 100,000 entries
//! scripts/bench.sh cluster                    # 1 and 3 instances on PostgreSQL: throughput and takeover
//! disconcierge-bench chat --bin target/release/disconcierge [--rates 500,1000,2000] [--seconds 5]
//!                         [--sequential 300] [--sims-nice 10]
//! disconcierge-bench retrieval [--sizes 1000,10000,100000] [--requests 1000] [--databases sqlite,postgres]
//! disconcierge-bench cluster --bin PATH [--instances 1,3] [--burst 3000]   (DC_BENCH_POSTGRES_URL)
//! disconcierge-bench sims --env-out FILE --ask-via URL [--questions 12]  (scripts/cluster.sh)
//! ```
//!
//! The bot's CPU time and memory are read from `/proc/<pid>`, so they exclude the simulators and the load
//! generator, which share the machine (and its cores) with the bot: latencies measured here include that
//! contention, as they would on a small server running a database next to the bot. In the chat bench the
//! simulators' threads run at a lower priority (`--sims-nice`, 10 by default; 0 for the same priority as
//! the bot): in production Discord and the model are remote, and their work is not the bot's to share two
//! cores with. The load generator's threads keep the bot's priority, so its lag stays as small as it can.

mod admin;
mod calibrate;
mod chat;
mod cluster;
mod http1;
mod process;
mod retrieval;
mod sims;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: disconcierge-bench chat --bin PATH [--rates R1,R2,…] [--seconds S] [--sequential N] [--sims-nice N]\n       disconcierge-bench admin --bin PATH [--rows N] [--requests N] [--databases sqlite,postgres]\n       disconcierge-bench retrieval [--sizes N1,N2,…] [--requests N] [--databases sqlite,postgres]\n       disconcierge-bench cluster --bin PATH [--instances N1,N2,…] [--burst N]   (PostgreSQL: DC_BENCH_POSTGRES_URL)\n       disconcierge-bench sims --env-out FILE --ask-via URL [--questions N]";

#[derive(Debug)]
pub struct Options {
    /// The disconcierge binary to measure (release build).
    pub bin: PathBuf,
    /// Offered loads (interactions per second) for the open-loop webhook phase.
    pub rates: Vec<u32>,
    /// How long each load lasts.
    pub seconds: u32,
    /// Commands answered one after the other, for CPU and wall time per `/chat`.
    pub sequential: u32,
    /// Admin bench: chat commands in the database.
    pub rows: u64,
    /// Admin bench: requests per page. Retrieval bench: messages looked up per size.
    pub requests: u32,
    /// Retrieval bench: entries per index (empty: 1,000, 10,000 and 100,000).
    pub sizes: Vec<u64>,
    /// Admin and retrieval benches: which databases (`sqlite`, `postgres`; PostgreSQL needs
    /// `DC_BENCH_POSTGRES_URL`).
    pub databases: Vec<String>,
    /// Chat bench: the niceness of the threads that run the Discord and LLM simulators (0 to 19).
    pub sims_nice: u32,
    /// Cluster bench: how many instances, one run per count.
    pub instances: Vec<u32>,
    /// Cluster bench: `/chat`s per burst.
    pub burst: u32,
    /// Simulators alone: where to write the instances' variables.
    pub env_out: Option<PathBuf>,
    /// Simulators alone: the webhook URL to ask through.
    pub ask_via: Option<String>,
    /// Simulators alone: how many questions.
    pub questions: u32,
}

fn parse(args: &[String]) -> Result<(String, Options), String> {
    let mut it = args.iter();
    let what = it.next().ok_or(USAGE)?.clone();
    let mut options = Options {
        bin: PathBuf::new(),
        rates: vec![500, 1000, 2000],
        seconds: 5,
        sequential: 300,
        rows: 1_000_000,
        requests: 200,
        sizes: Vec::new(),
        databases: vec!["sqlite".into(), "postgres".into()],
        sims_nice: 10,
        instances: vec![1, 3],
        burst: 3000,
        env_out: None,
        ask_via: None,
        questions: 12,
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| v.parse::<u32>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--bin" => options.bin = PathBuf::from(value),
            "--rates" => {
                options.rates = value
                    .split(',')
                    .map(|r| number(r.trim()))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => options.seconds = number(value)?,
            "--sequential" => options.sequential = number(value)?,
            "--rows" => options.rows = u64::from(number(value)?),
            "--requests" => options.requests = number(value)?,
            "--sims-nice" => {
                options.sims_nice = number(value)?;
                if options.sims_nice > 19 {
                    return Err(format!("--sims-nice {value}: a niceness is 0 to 19"));
                }
            }
            "--instances" => {
                options.instances = value
                    .split(',')
                    .map(|r| number(r.trim()))
                    .collect::<Result<_, _>>()?
            }
            "--burst" => options.burst = number(value)?,
            "--env-out" => options.env_out = Some(PathBuf::from(value)),
            "--ask-via" => options.ask_via = Some(value.clone()),
            "--questions" => options.questions = number(value)?,
            "--sizes" => {
                options.sizes = value
                    .split(',')
                    .map(|r| number(r.trim()).map(u64::from))
                    .collect::<Result<_, _>>()?
            }
            "--databases" => {
                options.databases = value.split(',').map(|d| d.trim().to_string()).collect();
                if let Some(d) = options
                    .databases
                    .iter()
                    .find(|d| *d != "sqlite" && *d != "postgres")
                {
                    return Err(format!("--databases {d}: sqlite or postgres"));
                }
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if options.bin.as_os_str().is_empty() && what != "retrieval" && what != "sims" {
        return Err(format!("--bin is required\n{USAGE}"));
    }
    Ok((what, options))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (what, options) = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if what == "chat" && options.sims_nice > 0 {
        // The runtime's threads serve the simulators; the main thread (which runs the bench itself and
        // starts the load generator's threads, which inherit its priority) is not one of them.
        let nice = options.sims_nice;
        builder.on_thread_start(move || process::lower_this_thread(nice));
    }
    let runtime = builder.enable_all().build().expect("a tokio runtime");
    let result = match what.as_str() {
        "chat" => {
            // On this thread (the bench's normal priority), before and after: see calibrate.rs.
            let before = calibrate::reference_time();
            println!(
                "machine speed: reference workload {} (see BENCHMARKS.md; twice the time, half the machine)",
                stats::ms(before)
            );
            let result = runtime.block_on(chat::run(&options));
            println!(
                "\nmachine speed: reference workload {} before the runs, {} after",
                stats::ms(before),
                stats::ms(calibrate::reference_time())
            );
            result
        }
        "admin" => runtime.block_on(admin::run(&options)),
        "retrieval" => runtime.block_on(retrieval::run(&options)),
        "cluster" => runtime.block_on(cluster::run(&options)),
        "sims" => runtime.block_on(sims::run(&options)),
        other => Err(format!("unknown bench {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
