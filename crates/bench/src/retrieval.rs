//! The retrieval bench: what the support desk does for each message in a ticket, on a guild with many
//! entries, and how fast entries are imported.
//!
//! For each size (default 1,000 / 10,000 / 100,000), a fresh database gets that many trained answers and
//! that many knowledge-base entries in one guild (plus a second guild of the same size, so the guild
//! filter is exercised), imported through the store's import methods (one transaction each, as
//! `/import_training` and `/kb_import` do; timed for the import throughput). Then `--requests` messages
//! are looked up one after the other exactly as the desk does it: search terms, both full-text searches,
//! scoring and the plan. Half the messages are rewordings of trained questions, half are new text.
//!
//! SQLite by default; PostgreSQL too when `DC_BENCH_POSTGRES_URL` is set (a database the bench may fill:
//! it creates and drops its own tables through migrations in a fresh schema-less database you give it).

use crate::Options;
use crate::stats::{Summary, ms};
use chrono::Utc;
use disconcierge_core::desk::model::{NewKbEntry, NewTrainingEntry};
use disconcierge_core::desk::retrieval::{self, Thresholds};
use disconcierge_store::{ConnectOptions, KbCreated, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const GUILD: u64 = 1_000;
const OTHER_GUILD: u64 = 2_000;
/// Candidates read per index, as the desk reads them.
const CANDIDATES: u32 = 20;

/// Words of a support desk's vocabulary; entries draw from it with a skewed distribution (a few words
/// are in many entries, most in few), as real text does.
const WORDS: &[&str] = &[
    "account",
    "password",
    "reset",
    "login",
    "email",
    "order",
    "invoice",
    "refund",
    "payment",
    "card",
    "shipping",
    "delivery",
    "parcel",
    "tracking",
    "address",
    "subscription",
    "plan",
    "upgrade",
    "cancel",
    "discount",
    "coupon",
    "price",
    "tax",
    "receipt",
    "billing",
    "error",
    "crash",
    "update",
    "install",
    "download",
    "version",
    "server",
    "connection",
    "timeout",
    "slow",
    "lag",
    "bug",
    "feature",
    "setting",
    "profile",
    "avatar",
    "name",
    "username",
    "verify",
    "code",
    "phone",
    "security",
    "two",
    "factor",
    "authentication",
    "ban",
    "appeal",
    "report",
    "moderator",
    "role",
    "channel",
    "voice",
    "stream",
    "music",
    "bot",
    "command",
    "permission",
    "invite",
    "link",
    "expired",
    "game",
    "save",
    "progress",
    "level",
    "reward",
    "event",
    "schedule",
    "time",
    "zone",
    "language",
    "translate",
    "mobile",
    "desktop",
    "browser",
    "cache",
    "cookie",
    "notification",
    "mute",
    "block",
    "privacy",
    "data",
    "export",
    "delete",
    "backup",
    "restore",
    "sync",
    "device",
    "battery",
    "screen",
    "keyboard",
    "mouse",
    "audio",
    "video",
    "camera",
    "microphone",
    "headset",
    "driver",
    "windows",
    "linux",
    "mac",
    "android",
    "ios",
    "store",
    "purchase",
    "gift",
    "balance",
    "wallet",
    "currency",
    "region",
    "warranty",
    "repair",
    "replacement",
    "damaged",
    "missing",
    "late",
    "wrong",
    "size",
    "color",
    "stock",
    "preorder",
    "release",
    "beta",
    "tester",
    "feedback",
    "survey",
    "contact",
    "support",
    "ticket",
    "response",
    "hours",
    "weekend",
];

/// How questions start.
const OPENINGS: &[&str] = &[
    "How do I",
    "Why does my",
    "Where can I find",
    "Can I",
    "What if my",
    "Help with",
];

/// A deterministic pseudo-random sequence (xorshift), so every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A word, skewed towards the start of the list (roughly Zipf-like).
    fn word(&mut self) -> String {
        let r = (self.next() % 10_000) as f64 / 10_000.0;
        let i = ((WORDS.len() as f64) * r * r) as usize;
        // One word in four is rare: a made-up product name or code, as real entries have.
        if self.next().is_multiple_of(4) {
            format!("{}{}", WORDS[i.min(WORDS.len() - 1)], self.next() % 5_000)
        } else {
            WORDS[i.min(WORDS.len() - 1)].to_string()
        }
    }

    fn text(&mut self, min: usize, max: usize) -> String {
        let n = min + (self.next() as usize % (max - min + 1));
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

fn training(rng: &mut Rng, guild_id: u64, n: usize) -> Vec<NewTrainingEntry> {
    (0..n)
        .map(|i| NewTrainingEntry {
            guild_id,
            question: format!(
                "{} {} {i}?",
                OPENINGS[rng.next() as usize % OPENINGS.len()],
                rng.text(4, 10)
            ),
            answer: rng.text(20, 60),
            category: Some(["billing", "technical", "account"][i % 3].to_string()),
            tags: vec![rng.word()],
            created_by: 1,
        })
        .collect()
}

fn knowledge(rng: &mut Rng, n: usize) -> Vec<NewKbEntry> {
    (0..n)
        .map(|_| NewKbEntry {
            title: rng.text(3, 8),
            content: rng.text(50, 150),
            tags: vec![rng.word(), rng.word()],
        })
        .collect()
}

pub async fn run(options: &Options) -> Result<(), String> {
    let sizes: Vec<u64> = if options.sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        options.sizes.clone()
    };
    println!(
        "retrieval: per message, search terms + both full-text searches ({CANDIDATES} candidates each) + scoring + plan; {} messages per size, one after the other",
        options.requests
    );
    let dir = std::env::temp_dir().join(format!(
        "disconcierge-bench-retrieval-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut result = Ok(());
    let sqlite = options.databases.iter().any(|d| d == "sqlite");
    for &n in sizes.iter().filter(|_| sqlite) {
        let path = dir.join(format!("retrieval-{n}.sqlite3"));
        let store =
            disconcierge_store::connect(&ConnectOptions::sqlite(path.display().to_string()))
                .await
                .map_err(|e| e.to_string())?;
        result = bench(&store, "SQLite", n, options.requests).await;
        store.close().await;
        if result.is_err() {
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let postgres = options.databases.iter().any(|d| d == "postgres");
    match std::env::var("DC_BENCH_POSTGRES_URL") {
        Ok(url) if postgres => {
            for &n in &sizes {
                let store = disconcierge_store::connect(&ConnectOptions::postgres(url.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
                bench(&store, "PostgreSQL", n, options.requests).await?;
                store.close().await;
            }
        }
        Err(_) if postgres && !sqlite => {
            return Err("--databases postgres needs DC_BENCH_POSTGRES_URL".into());
        }
        _ => {}
    }
    Ok(())
}

async fn bench(store: &Arc<dyn Store>, db: &str, n: u64, requests: u32) -> Result<(), String> {
    let err = |e: disconcierge_store::StoreError| e.to_string();
    store.migrate().await.map_err(err)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n);
    let now = Utc::now();
    let n = n as usize;

    let mut imported = 0usize;
    let mut import_time = Duration::ZERO;
    let mut questions = Vec::new();
    // A database that holds this size's entries already (an earlier run on the same PostgreSQL
    // database) is measured as it is: the entries are made again, identically, but not imported.
    let filled = store.training_stats(GUILD).await.map_err(err)?.entries == n as u64;
    if filled {
        println!(
            "{db}: the {n} entries per guild of an earlier run are there; measured without importing"
        );
    }
    for guild in [GUILD, OTHER_GUILD] {
        let entries = training(&mut rng, guild, n);
        if guild == GUILD {
            questions = entries.iter().map(|e| e.question.clone()).collect();
        }
        if filled {
            knowledge(&mut rng, n);
            continue;
        }
        let started = Instant::now();
        store.import_training(&entries, now).await.map_err(err)?;
        let kb = match store
            .create_kb(guild, "faq", None, 1, now)
            .await
            .map_err(err)?
        {
            KbCreated::Created(kb) | KbCreated::Exists(kb) => kb,
        };
        let kb_entries = knowledge(&mut rng, n);
        store
            .import_kb_entries(kb.id, &kb_entries, 1, now)
            .await
            .map_err(err)?;
        import_time += started.elapsed();
        imported += 2 * n;
    }

    let thresholds = Thresholds {
        trained: 0.85,
        fallback: 0.6,
        context_min: 0.2,
        context_entries: 5,
    };
    // Three kinds of messages, measured apart: a trained question reworded (other opening, no question
    // mark); new text drawn from the same vocabulary; and only the most common words (the worst case:
    // every term is in many entries).
    let mut kinds: [(&str, Vec<Duration>, u32); 3] = [
        ("reworded trained questions", Vec::new(), 0),
        ("new text", Vec::new(), 0),
        ("common words only", Vec::new(), 0),
    ];
    for i in 0..requests {
        let kind = i as usize % 3;
        let message = match kind {
            0 => {
                let q = &questions[rng.next() as usize % questions.len()];
                let rest = q.split_once(' ').map(|(_, r)| r).unwrap_or(q);
                format!("please {}", rest.trim_end_matches('?'))
            }
            1 => format!("{} please help", rng.text(5, 20)),
            _ => (0..4)
                .map(|_| WORDS[rng.next() as usize % 12])
                .collect::<Vec<_>>()
                .join(" "),
        };
        let started = Instant::now();
        let terms = retrieval::query_terms(&message);
        let (trained, knowledge) = tokio::try_join!(
            store.search_training(GUILD, &terms, CANDIDATES, None),
            store.search_knowledge(GUILD, None, &terms, CANDIDATES, None),
        )
        .map_err(err)?;
        let trained = retrieval::score(&message, None, &trained);
        let knowledge = retrieval::score(&message, None, &knowledge);
        let plan = retrieval::plan(&trained, &knowledge, &thresholds);
        kinds[kind].1.push(started.elapsed());
        if matches!(plan, retrieval::Plan::Trained(_)) {
            kinds[kind].2 += 1;
        }
    }
    let import = if filled {
        "imported earlier".to_string()
    } else {
        format!(
            "import {:.0} entries/s ({imported} in {:.1} s)",
            imported as f64 / import_time.as_secs_f64(),
            import_time.as_secs_f64()
        )
    };
    println!(
        "{db} with {n} trained answers and {n} knowledge entries in the guild (and as many in another): {import}"
    );
    let mut all = Vec::new();
    for (name, sample, trained) in kinds {
        let count = sample.len();
        all.extend(sample.iter().copied());
        let s = Summary::new(sample);
        println!(
            "  {name:<28} p50 {} p99 {} max {}  (trained answer sent as is: {trained}/{count})",
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            ms(s.max()),
        );
    }
    let s = Summary::new(all);
    println!(
        "  {:<28} p50 {} p99 {} max {}",
        "all messages",
        ms(s.percentile(50.0)),
        ms(s.percentile(99.0)),
        ms(s.max()),
    );
    Ok(())
}
