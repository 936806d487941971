//! What each gateway close code means, and what the bot does about the ones that end a session for good.
//!
//! twilight reconnects by itself after every close Discord documents as resumable (4000–4009, network
//! failures). The six it calls fatal end the shard: 4004 authentication failed, 4010 invalid shard, 4011
//! sharding required, 4012 invalid API version, 4013 invalid intents, 4014 disallowed intents. For each of
//! those this module says, in words an admin can act on, what happened and what to change, and which
//! recovery the gateway tries ([`Recovery`]): without the privileged intents (4013, 4014), with as many
//! shards as Discord asks for (4011), or none (4004, 4010, 4012: the gateway stops, the admin interface and
//! webhook interactions keep working).

use twilight_gateway::Intents;

/// The intents Discord makes an application switch on in its developer portal.
pub const PRIVILEGED: Intents = Intents::GUILD_MEMBERS
    .union(Intents::GUILD_PRESENCES)
    .union(Intents::MESSAGE_CONTENT);

/// The least the bot needs: guilds (who manages them) and the messages in them (tickets, mentions).
/// Interactions arrive whatever the intents.
pub const MINIMAL: Intents = Intents::GUILDS
    .union(Intents::GUILD_MESSAGES)
    .union(Intents::DIRECT_MESSAGES);

/// What the gateway does after a fatal close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Connect again asking for these intents only.
    Intents(Intents),
    /// Connect again with the number of shards Discord recommends (`GET /gateway/bot`).
    Reshard,
    /// Stop the gateway until disconcierge is restarted with a changed configuration.
    Stop,
}

/// A fatal close, explained for the admin: shown once in the log, on the dashboard's Discord gateway card
/// and in `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayProblem {
    /// The close code, when Discord sent one.
    pub code: Option<u16>,
    /// What the code means, in a few words ("Disallowed intent(s)").
    pub meaning: &'static str,
    /// What happened and what to change.
    pub advice: String,
    /// Whether the gateway stopped (true) or goes on working around the problem (false).
    pub stopped: bool,
    /// Whether the bot, though connected, goes without something until the admin acts (the refused
    /// intents); false once the recovery leaves nothing to fix (resharding).
    pub degraded: bool,
    /// When Discord closed the connection.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl GatewayProblem {
    /// One line for a log, a card or a message: `4014 Disallowed intent(s): …`.
    pub fn summary(&self) -> String {
        match self.code {
            Some(code) => format!("{code} {}: {}", self.meaning, self.advice),
            None => format!("{}: {}", self.meaning, self.advice),
        }
    }
}

/// Discord's name for a close code (its documentation's "Description" column).
pub fn meaning(code: u16) -> &'static str {
    match code {
        1000 | 1001 => "Normal closure",
        4000 => "Unknown error",
        4001 => "Unknown opcode",
        4002 => "Decode error",
        4003 => "Not authenticated",
        4004 => "Authentication failed",
        4005 => "Already authenticated",
        4007 => "Invalid seq",
        4008 => "Rate limited",
        4009 => "Session timed out",
        4010 => "Invalid shard",
        4011 => "Sharding required",
        4012 => "Invalid API version",
        4013 => "Invalid intent(s)",
        4014 => "Disallowed intent(s)",
        _ => "Unknown close code",
    }
}

/// The names of the privileged intents in `intents`, as the developer portal labels their switches.
fn portal_switches(intents: Intents) -> String {
    let mut names = Vec::new();
    if intents.contains(Intents::MESSAGE_CONTENT) {
        names.push("Message Content Intent");
    }
    if intents.contains(Intents::GUILD_MEMBERS) {
        names.push("Server Members Intent");
    }
    if intents.contains(Intents::GUILD_PRESENCES) {
        names.push("Presence Intent");
    }
    names.join(", ")
}

/// What to do after the shard ended with `code` while asking for `intents` over `shards` shards.
pub fn decide(
    code: Option<u16>,
    intents: Intents,
    shards: u32,
    at: chrono::DateTime<chrono::Utc>,
) -> (GatewayProblem, Recovery) {
    let problem = |meaning, advice: String, stopped| GatewayProblem {
        code,
        meaning,
        advice,
        stopped,
        degraded: !stopped && code != Some(4011),
        at,
    };
    let restart = "then restart disconcierge";
    match code {
        Some(4004) => (
            problem(
                meaning(4004),
                format!(
                    "Discord refused the bot token. Reset it in Discord's developer portal (your application → \
                     Bot → Reset Token), put the new one in DC_DISCORD_TOKEN, {restart}. The gateway is \
                     stopped; the admin interface keeps working."
                ),
                true,
            ),
            Recovery::Stop,
        ),
        Some(4011) => (
            problem(
                meaning(4011),
                format!(
                    "the bot is in more servers than one gateway connection may serve (2,500), so Discord \
                     requires sharding; disconcierge connects again with the number of shards Discord \
                     recommends (it had {shards})."
                ),
                false,
            ),
            Recovery::Reshard,
        ),
        Some(c @ (4013 | 4014)) if intents.intersects(PRIVILEGED) => {
            let privileged = intents & PRIVILEGED;
            let without = intents - PRIVILEGED;
            let advice = if c == 4014 {
                format!(
                    "The gateway asked for {} but the application is not allowed it. Switch \
                     it on in Discord's developer portal (your application → Bot → Privileged Gateway \
                     Intents), {restart}. Until then the bot is connected without it ({}): messages in \
                     tickets and mentions arrive without their text.",
                    portal_switches(privileged),
                    without.bits()
                )
            } else {
                format!(
                    "Discord does not accept DC_DISCORD_GATEWAY_INTENTS={}. The bot is connected without \
                     the privileged intents ({}); set DC_DISCORD_GATEWAY_INTENTS to a valid value, {restart}.",
                    intents.bits(),
                    without.bits()
                )
            };
            (
                problem(meaning(c), advice, false),
                Recovery::Intents(without),
            )
        }
        Some(c @ (4013 | 4014)) if !MINIMAL.contains(intents) => (
            problem(
                meaning(c),
                format!(
                    "Discord does not accept DC_DISCORD_GATEWAY_INTENTS={}. The bot is connected with the \
                     least it needs ({}); set DC_DISCORD_GATEWAY_INTENTS to a valid value, {restart}.",
                    intents.bits(),
                    MINIMAL.bits()
                ),
                false,
            ),
            Recovery::Intents(MINIMAL),
        ),
        Some(c @ (4013 | 4014)) => (
            problem(
                meaning(c),
                format!(
                    "Discord refused even the intents the bot needs least ({}). Check the application in \
                     Discord's developer portal, {restart}. The gateway is stopped; webhook interactions \
                     and the admin interface keep working.",
                    intents.bits()
                ),
                true,
            ),
            Recovery::Stop,
        ),
        Some(4010) => (
            problem(
                meaning(4010),
                format!(
                    "Discord refused the shard the bot identified as (one of {shards}). The gateway is \
                     stopped; restart disconcierge, and report this if it happens again."
                ),
                true,
            ),
            Recovery::Stop,
        ),
        Some(4012) => (
            problem(
                meaning(4012),
                format!(
                    "Discord no longer accepts the gateway version this disconcierge speaks. Upgrade \
                     disconcierge, {restart}. The gateway is stopped; the admin interface keeps working."
                ),
                true,
            ),
            Recovery::Stop,
        ),
        Some(other) => (
            problem(
                meaning(other),
                format!(
                    "Discord closed the gateway with {other} and said not to reconnect. The gateway is \
                     stopped; {restart} to try again."
                ),
                true,
            ),
            Recovery::Stop,
        ),
        None => (
            problem(
                "Closed without a code",
                format!("the gateway ended without saying why. The gateway is stopped; {restart}."),
                true,
            ),
            Recovery::Stop,
        ),
    }
}

/// The number of shards to run after Discord asked for sharding: what it recommends, and always more
/// than before (a recommendation that has not caught up yet would be refused again).
pub fn reshard(current: u32, recommended: Option<u32>) -> u32 {
    let more = current.saturating_mul(2).max(current.saturating_add(1));
    match recommended {
        Some(r) if r > current => r,
        _ => more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn every_code_twilight_treats_as_fatal_has_a_defined_outcome() {
        let default = Intents::from_bits_truncate(3_243_773);
        let cases = [
            (4004, true),
            (4010, true),
            (4011, false),
            (4012, true),
            (4013, false),
            (4014, false),
        ];
        for (code, stopped) in cases {
            let intents = default | Intents::MESSAGE_CONTENT;
            let (problem, recovery) = decide(Some(code), intents, 1, at());
            assert_eq!(problem.stopped, stopped, "{code}");
            assert_eq!(recovery == Recovery::Stop, stopped, "{code}");
            assert_ne!(problem.meaning, "Unknown close code", "{code}");
            assert!(problem.summary().starts_with(&code.to_string()), "{code}");
            let twilight_fatal = !twilight_model::gateway::CloseCode::try_from(code)
                .expect("a documented code")
                .can_reconnect();
            assert!(twilight_fatal, "{code} ends twilight's shard");
        }
    }

    #[test]
    fn disallowed_intents_fall_back_to_the_unprivileged_ones_and_name_the_portal_switch() {
        let intents = Intents::from_bits_truncate(3_243_773) | Intents::MESSAGE_CONTENT;
        let (problem, recovery) = decide(Some(4014), intents, 1, at());
        assert_eq!(
            recovery,
            Recovery::Intents(Intents::from_bits_truncate(3_243_773))
        );
        assert!(
            problem.advice.contains("Message Content Intent"),
            "{problem:?}"
        );
        assert!(problem.advice.contains("developer portal"), "{problem:?}");
        // Without privileged intents left, a second refusal tries the least the bot needs, then stops.
        let (_, next) = decide(Some(4014), Intents::from_bits_truncate(3_243_773), 1, at());
        assert_eq!(next, Recovery::Intents(MINIMAL));
        let (last, stop) = decide(Some(4014), MINIMAL, 1, at());
        assert_eq!(stop, Recovery::Stop);
        assert!(last.stopped);
    }

    #[test]
    fn an_authentication_failure_names_the_token_setting() {
        let (problem, recovery) = decide(Some(4004), MINIMAL, 1, at());
        assert_eq!(recovery, Recovery::Stop);
        assert!(problem.advice.contains("DC_DISCORD_TOKEN"));
        assert!(problem.advice.contains("admin interface keeps working"));
    }

    #[test]
    fn resharding_follows_discord_and_always_grows() {
        assert_eq!(reshard(1, Some(4)), 4);
        assert_eq!(reshard(1, Some(1)), 2, "a stale recommendation");
        assert_eq!(reshard(3, None), 6);
        assert_eq!(reshard(u32::MAX, None), u32::MAX);
    }
}
