//! Where a user stands against their 6-hour limit, from their counted commands.

use chrono::Utc;
use disconcierge_core::limits::Allowance;

/// Where a user stands against their 6 h limit at `now`, from the creation times of their counted
/// commands read when their command was claimed (those that left the window since are left out).
/// `pending` is the time of a command that consumed tokens but is not recorded as finished yet (the
/// one being answered): it counts too.
pub(crate) fn allowance_at(
    user: &disconcierge_core::model::User,
    config: &disconcierge_core::RuntimeConfig,
    counted: &[chrono::DateTime<Utc>],
    now: chrono::DateTime<Utc>,
    pending: Option<chrono::DateTime<Utc>>,
) -> Allowance {
    let start = Allowance::window_start(now);
    let inside = counted.iter().filter(|t| **t >= start);
    let usage = disconcierge_store::Usage {
        counted: u32::try_from(inside.clone().count()).unwrap_or(u32::MAX),
        oldest: inside.min().copied(),
    };
    allowance_of(user, config, usage, pending)
}

/// A user's allowance from their usage in the window.
pub(crate) fn allowance_of(
    user: &disconcierge_core::model::User,
    config: &disconcierge_core::RuntimeConfig,
    usage: disconcierge_store::Usage,
    pending: Option<chrono::DateTime<Utc>>,
) -> Allowance {
    let limit = user
        .limit_override
        .unwrap_or(config.user_chat_command_limit_6h);
    Allowance::new(
        usage.counted + u32::from(pending.is_some()),
        limit,
        usage.oldest.or(pending),
    )
}

#[cfg(test)]
mod allowance_tests {
    use super::allowance_at;
    use chrono::{DateTime, TimeDelta, Utc};
    use disconcierge_core::RuntimeConfig;
    use disconcierge_core::model::User;

    fn user(limit: Option<u32>) -> User {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        User {
            discord_id: 1,
            username: "ann".into(),
            global_name: None,
            priority: false,
            ignored: false,
            limit_override: limit,
            llm_model: None,
            llm_instructions: None,
            llm_temperature: None,
            conversation_id: None,
            conversation_reset_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// The counted times are read when the command is claimed; the usage line is computed when the
    /// answer is ready. A command that left the window meanwhile no longer counts, and the next free
    /// slot is then the next one's.
    #[test]
    fn the_usage_line_counts_the_window_at_answer_time() {
        let claimed = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let mins = TimeDelta::minutes;
        // Created 5 h 59 min and 4 h before the claim: both in the window then.
        let counted = [claimed - mins(359), claimed - mins(240)];
        let config = RuntimeConfig {
            user_chat_command_limit_6h: 3,
            ..RuntimeConfig::default()
        };
        let pending = Some(claimed - mins(1));

        let at_claim = allowance_at(&user(None), &config, &counted, claimed, pending);
        assert_eq!((at_claim.used, at_claim.limit), (3, 3));
        assert_eq!(at_claim.next_slot_at, Some(claimed + mins(1)));

        // Two minutes later (a slow model), the oldest has left the window.
        let answered = allowance_at(&user(None), &config, &counted, claimed + mins(2), pending);
        assert_eq!(answered.used, 2);
        assert_eq!(answered.next_slot_at, Some(claimed + mins(120)));
        assert!(!answered.exhausted());

        // A command that consumed nothing is not pending; the user's own limit wins.
        let own = allowance_at(&user(Some(10)), &config, &counted, claimed, None);
        assert_eq!((own.used, own.limit), (2, 10));
        let none = allowance_at(&user(None), &config, &[], claimed, None);
        assert_eq!((none.used, none.next_slot_at), (0, None));
    }
}
