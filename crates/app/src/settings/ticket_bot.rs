//! The Python ticket bot's `.env` names (`../shared/seeds/002_*`), so its users move over unchanged.
//!
//! Each name is read only when its `DC_*` equivalent is not set, and each one present is reported once at
//! startup with what it became. Three kinds:
//!
//! - a `DC_*` variable under another name (`DISCORD_TOKEN` is `DC_DISCORD_TOKEN`; `OLLAMA_URL` also
//!   selects Ollama when `DC_LLM_PROVIDER` is not set);
//! - a runtime setting, kept in the database and changed in the admin interface (`SIMILARITY_THRESHOLD`
//!   is `desk_fallback_threshold`): the value seeds the configuration of a new database ([`RuntimeSeeds`]);
//!   a database that already has one keeps its value, and the startup log says so when they differ;
//! - nothing to read: `DB_PATH` (the ticket bot's own data, brought over with `disconcierge import
//!   ticket-bot`) and `BOT_PREFIX` (disconcierge has slash commands only).

use super::{InvalidVar, Origin};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one of the ticket bot's names becomes.
enum Meaning {
    /// This `DC_*` variable.
    Var(&'static str),
    /// A runtime setting of a new database.
    Seed(&'static str),
    /// Nothing: why, and what to do instead.
    Unused(&'static str),
}

const NAMES: &[(&str, Meaning)] = &[
    ("DISCORD_TOKEN", Meaning::Var("DC_DISCORD_TOKEN")),
    ("DISCORD_GUILD_ID", Meaning::Var("DC_DISCORD_GUILD_ID")),
    ("OLLAMA_URL", Meaning::Var("DC_OLLAMA_URL")),
    ("OLLAMA_MODEL", Meaning::Var("DC_OLLAMA_MODEL")),
    ("LOG_LEVEL", Meaning::Var("DC_LOG_LEVEL")),
    ("ENABLE_AUTO_RESPONSE", Meaning::Var("DC_DESK_AI_REPLIES")),
    ("ENABLE_TRAINING", Meaning::Var("DC_DESK_TRAINING")),
    (
        "SIMILARITY_THRESHOLD",
        Meaning::Seed("desk_fallback_threshold"),
    ),
    (
        "MAX_CONTEXT_LENGTH",
        Meaning::Seed("llm_max_context_tokens"),
    ),
    ("RESPONSE_TIMEOUT", Meaning::Seed("llm_answer_timeout")),
    (
        "DB_PATH",
        Meaning::Unused(
            "it names the ticket bot's own database, which disconcierge does not use as its own \
             (DC_DATABASE is disconcierge's). Bring its trained answers over once with: disconcierge \
             import ticket-bot --db <DB_PATH> --guild <server id>",
        ),
    ),
    (
        "BOT_PREFIX",
        Meaning::Unused(
            "disconcierge has slash commands only, so a prefix has nothing to do; remove it",
        ),
    ),
];

/// Whether `name` is one of the ticket bot's variables (read from the environment and the dotenv file
/// besides the `DC_*` ones).
pub fn is_name(name: &str) -> bool {
    NAMES.iter().any(|(n, _)| *n == name)
}

/// The ticket bot's settings that are runtime settings here: they seed a new database's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeSeeds {
    /// `SIMILARITY_THRESHOLD` (0 to 1): the least confidence for a trained answer to be sent when the
    /// model is unavailable, which is what the ticket bot's threshold did.
    pub desk_fallback_threshold: Option<f64>,
    /// `MAX_CONTEXT_LENGTH`: the ticket bot counted characters; here the budget is in tokens, about four
    /// characters each.
    pub llm_max_context_tokens: Option<u32>,
    /// `RESPONSE_TIMEOUT`, in seconds.
    pub llm_answer_timeout: Option<Duration>,
}

impl RuntimeSeeds {
    pub fn is_empty(&self) -> bool {
        *self == RuntimeSeeds::default()
    }

    /// `config` with the seeds applied (the first token must come within the answer's time).
    pub fn apply(&self, config: &mut disconcierge_core::RuntimeConfig) {
        if let Some(t) = self.desk_fallback_threshold {
            config.desk_fallback_threshold = t;
            config.desk_trained_answer_threshold = config.desk_trained_answer_threshold.max(t);
        }
        if let Some(n) = self.llm_max_context_tokens {
            config.llm_max_context_tokens = n;
        }
        if let Some(d) = self.llm_answer_timeout {
            config.llm_answer_timeout = d;
            config.llm_first_token_timeout = config.llm_first_token_timeout.min(d);
        }
    }

    /// One line per seed whose value differs from `config`'s (a database configured before): what the
    /// admin set in the `.env`, and where to change the value in force.
    pub fn differences(&self, config: &disconcierge_core::RuntimeConfig) -> Vec<String> {
        let mut out = Vec::new();
        let mut differs = |name: &str, field: &str, wanted: String, current: String| {
            if wanted != current {
                out.push(format!(
                    "{name} from the ticket bot's .env asks for {field} = {wanted}, but this database's \
                     configuration already says {current}, which stays in force; change it in the admin \
                     interface (Configuration) if {wanted} is right, and remove {name}."
                ));
            }
        };
        if let Some(t) = self.desk_fallback_threshold {
            differs(
                "SIMILARITY_THRESHOLD",
                "desk_fallback_threshold",
                t.to_string(),
                config.desk_fallback_threshold.to_string(),
            );
        }
        if let Some(n) = self.llm_max_context_tokens {
            differs(
                "MAX_CONTEXT_LENGTH",
                "llm_max_context_tokens",
                n.to_string(),
                config.llm_max_context_tokens.to_string(),
            );
        }
        if let Some(d) = self.llm_answer_timeout {
            differs(
                "RESPONSE_TIMEOUT",
                "llm_answer_timeout",
                disconcierge_core::format_duration(d),
                disconcierge_core::format_duration(config.llm_answer_timeout),
            );
        }
        out
    }
}

/// What the ticket bot's names in a configuration amount to.
#[derive(Debug, Clone, Default)]
pub struct Translated {
    /// One line per name present, for the startup log.
    pub notes: Vec<String>,
    pub seeds: RuntimeSeeds,
    pub errors: Vec<InvalidVar>,
}

/// Reads the ticket bot's names found (`found`, by name) into `values` (the `DC_*` ones, by name), where
/// the `DC_*` equivalent is not set.
pub(super) fn translate(
    values: &mut BTreeMap<String, (String, Origin)>,
    found: BTreeMap<String, (String, Origin)>,
) -> Translated {
    let mut out = Translated::default();
    for (name, meaning) in NAMES {
        let Some((value, origin)) = found.get(*name) else {
            continue;
        };
        match meaning {
            Meaning::Var(dc) if values.contains_key(*dc) => out.notes.push(format!(
                "{name} (the ticket bot's name) is ignored: {dc} is set and wins; remove {name}."
            )),
            Meaning::Var(dc) => {
                values.insert(dc.to_string(), (value.clone(), origin.clone()));
                let mut note = format!(
                    "{name} (the ticket bot's name, from {origin}) is read as {dc}; rename it to {dc}."
                );
                if *name == "OLLAMA_URL" && !values.contains_key("DC_LLM_PROVIDER") {
                    values.insert("DC_LLM_PROVIDER".into(), ("ollama".into(), origin.clone()));
                    note.push_str(
                        " DC_LLM_PROVIDER is not set, so the model is Ollama's (DC_LLM_PROVIDER=ollama).",
                    );
                }
                out.notes.push(note);
            }
            Meaning::Seed(field) => {
                let parsed = seed(&mut out.seeds, name, value.trim());
                match parsed {
                    Ok(()) => out.notes.push(format!(
                        "{name} (the ticket bot's name, from {origin}) is the runtime setting {field}: it \
                         seeds a new database's configuration; afterwards change {field} in the admin \
                         interface (Configuration) and remove {name}."
                    )),
                    Err(expected) => out.errors.push(InvalidVar {
                        var: name,
                        value: Some(value.clone()),
                        origin: origin.clone(),
                        expected,
                    }),
                }
            }
            Meaning::Unused(why) => out.notes.push(format!(
                "{name} (the ticket bot's name, from {origin}) is not used: {why}."
            )),
        }
    }
    out
}

fn seed(seeds: &mut RuntimeSeeds, name: &str, value: &str) -> Result<(), String> {
    match name {
        "SIMILARITY_THRESHOLD" => {
            let t = value
                .parse::<f64>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or("expected a number from 0 to 1, such as 0.7")?;
            seeds.desk_fallback_threshold = Some(t);
        }
        "MAX_CONTEXT_LENGTH" => {
            let chars = value
                .parse::<u32>()
                .ok()
                .filter(|n| (400..=40_000_000).contains(n))
                .ok_or("expected a number of characters from 400 to 40000000, such as 2000")?;
            seeds.llm_max_context_tokens = Some(chars / 4);
        }
        "RESPONSE_TIMEOUT" => {
            let secs = value
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=14 * 60).contains(s))
                .ok_or("expected whole seconds from 1 to 840, such as 30")?;
            seeds.llm_answer_timeout = Some(Duration::from_secs(secs));
        }
        other => unreachable!("{other} is not a runtime seed"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(pairs: &[(&str, &str)]) -> BTreeMap<String, (String, Origin)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (v.to_string(), Origin::Environment)))
            .collect()
    }

    #[test]
    fn every_name_of_the_seed_env_is_known_and_reported_once() {
        let seed_env = [
            ("DISCORD_TOKEN", "t"),
            ("DISCORD_GUILD_ID", "123"),
            ("OLLAMA_URL", "http://localhost:11434"),
            ("OLLAMA_MODEL", "llama3"),
            ("BOT_PREFIX", "!"),
            ("LOG_LEVEL", "INFO"),
            ("DB_PATH", "./data/training.db"),
            ("SIMILARITY_THRESHOLD", "0.7"),
            ("MAX_CONTEXT_LENGTH", "2000"),
            ("ENABLE_AUTO_RESPONSE", "true"),
            ("ENABLE_TRAINING", "true"),
            ("RESPONSE_TIMEOUT", "30"),
        ];
        assert!(seed_env.iter().all(|(k, _)| is_name(k)));
        let mut values = BTreeMap::new();
        let t = translate(&mut values, found(&seed_env));
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        assert_eq!(t.notes.len(), seed_env.len(), "{:#?}", t.notes);
        for (name, _) in seed_env {
            assert_eq!(
                t.notes.iter().filter(|n| n.starts_with(name)).count(),
                1,
                "{name}: {:#?}",
                t.notes
            );
        }
        assert_eq!(values["DC_DISCORD_TOKEN"].0, "t");
        assert_eq!(values["DC_LLM_PROVIDER"].0, "ollama");
        assert_eq!(values["DC_DESK_TRAINING"].0, "true");
        assert_eq!(
            t.seeds,
            RuntimeSeeds {
                desk_fallback_threshold: Some(0.7),
                llm_max_context_tokens: Some(500),
                llm_answer_timeout: Some(Duration::from_secs(30)),
            }
        );
        let db = t.notes.iter().find(|n| n.starts_with("DB_PATH")).unwrap();
        assert!(db.contains("disconcierge import ticket-bot --db"), "{db}");
    }

    #[test]
    fn a_dc_name_wins_and_an_explicit_provider_is_kept() {
        let mut values = BTreeMap::new();
        values.insert(
            "DC_OLLAMA_MODEL".to_string(),
            ("mistral".to_string(), Origin::Environment),
        );
        values.insert(
            "DC_LLM_PROVIDER".to_string(),
            ("openai".to_string(), Origin::Environment),
        );
        let t = translate(
            &mut values,
            found(&[("OLLAMA_MODEL", "llama3"), ("OLLAMA_URL", "http://o:11434")]),
        );
        assert_eq!(values["DC_OLLAMA_MODEL"].0, "mistral");
        assert_eq!(values["DC_LLM_PROVIDER"].0, "openai");
        assert!(
            t.notes
                .iter()
                .any(|n| n.contains("is ignored: DC_OLLAMA_MODEL is set"))
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_what_is_expected() {
        let mut values = BTreeMap::new();
        let t = translate(
            &mut values,
            found(&[("SIMILARITY_THRESHOLD", "70%"), ("RESPONSE_TIMEOUT", "0")]),
        );
        let errors: Vec<String> = t.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("SIMILARITY_THRESHOLD=\"70%\""),
            "{errors:?}"
        );
        assert!(errors[1].contains("from 1 to 840"), "{errors:?}");
    }

    #[test]
    fn seeds_make_a_valid_configuration_and_differences_are_named() {
        let mut config = disconcierge_core::RuntimeConfig::default();
        let seeds = RuntimeSeeds {
            desk_fallback_threshold: Some(0.9),
            llm_max_context_tokens: Some(500),
            llm_answer_timeout: Some(Duration::from_secs(5)),
        };
        let before = config.clone();
        seeds.apply(&mut config);
        config.validate().expect("seeded configuration is valid");
        assert_eq!(config.desk_trained_answer_threshold, 0.9);
        assert!(config.llm_first_token_timeout <= Duration::from_secs(5));
        assert!(seeds.differences(&config).is_empty());
        let lines = seeds.differences(&before);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].starts_with(
            "SIMILARITY_THRESHOLD from the ticket bot's .env asks for desk_fallback_threshold = 0.9"
        ));
    }
}
