//! Whether a new chat command may enter the queue, and what it displaces.
//!
//! The checks run in a fixed order, each with its own answer to the user:
//! 1. bots and ignored users are answered nothing (and logged);
//! 2. while paused, only priority users are admitted; others get the paused message;
//! 3. a user with a command still in flight gets the "still working" message (one at a time per user,
//!    across every instance, since the in-flight state is in the database);
//! 4. a user at their 6 h limit is told when the next command is available;
//! 5. a full queue makes room by dropping its oldest non-priority command (whose user is told); if every
//!    waiting command is a priority one, a priority newcomer displaces the oldest of them and anyone else
//!    is refused with the queue-full message.

use crate::limits::Allowance;

/// What is known about the user asking.
#[derive(Debug, Clone, Copy)]
pub struct Applicant {
    pub is_bot: bool,
    pub ignored: bool,
    pub priority: bool,
    /// Another command of theirs is queued or being answered.
    pub in_flight: bool,
    pub allowance: Allowance,
}

/// The queue as it stands.
#[derive(Debug, Clone, Copy)]
pub struct QueueState {
    pub waiting: u32,
    pub capacity: u32,
    /// Id of the oldest waiting non-priority command, if any.
    pub oldest_non_priority: Option<i64>,
    /// Id of the oldest waiting command, if any.
    pub oldest: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Queue it; `evict` names a waiting command to drop first (its user gets the queue-full message).
    Accept {
        evict: Option<i64>,
    },
    /// Say nothing (bots, ignored users).
    Ignore,
    Paused,
    Busy,
    RateLimited,
    QueueFull,
}

pub fn admit(applicant: &Applicant, paused: bool, queue: &QueueState) -> Admission {
    if applicant.is_bot || applicant.ignored {
        return Admission::Ignore;
    }
    if paused && !applicant.priority {
        return Admission::Paused;
    }
    if applicant.in_flight {
        return Admission::Busy;
    }
    if applicant.allowance.exhausted() {
        return Admission::RateLimited;
    }
    if queue.waiting < queue.capacity {
        return Admission::Accept { evict: None };
    }
    match (queue.oldest_non_priority, applicant.priority) {
        (Some(victim), _) => Admission::Accept {
            evict: Some(victim),
        },
        (None, true) => Admission::Accept {
            evict: queue.oldest,
        },
        (None, false) => Admission::QueueFull,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Applicant {
        Applicant {
            is_bot: false,
            ignored: false,
            priority: false,
            in_flight: false,
            allowance: Allowance::new(0, 10, None),
        }
    }

    fn queue(waiting: u32) -> QueueState {
        QueueState {
            waiting,
            capacity: 3,
            oldest_non_priority: (waiting > 0).then_some(11),
            oldest: (waiting > 0).then_some(10),
        }
    }

    #[test]
    fn checks_run_in_order() {
        let q = queue(0);
        assert_eq!(
            admit(
                &Applicant {
                    is_bot: true,
                    ..user()
                },
                false,
                &q
            ),
            Admission::Ignore
        );
        // Ignored wins over everything else, even priority while paused.
        let ignored_vip = Applicant {
            ignored: true,
            priority: true,
            ..user()
        };
        assert_eq!(admit(&ignored_vip, true, &q), Admission::Ignore);
        assert_eq!(
            admit(
                &Applicant {
                    in_flight: true,
                    ..user()
                },
                true,
                &q
            ),
            Admission::Paused
        );
        assert_eq!(
            admit(
                &Applicant {
                    in_flight: true,
                    ..user()
                },
                false,
                &q
            ),
            Admission::Busy
        );
        let spent = Applicant {
            allowance: Allowance::new(10, 10, None),
            ..user()
        };
        assert_eq!(admit(&spent, false, &q), Admission::RateLimited);
        assert_eq!(admit(&user(), false, &q), Admission::Accept { evict: None });
    }

    #[test]
    fn priority_users_pass_a_pause() {
        let vip = Applicant {
            priority: true,
            ..user()
        };
        assert_eq!(
            admit(&vip, true, &queue(0)),
            Admission::Accept { evict: None }
        );
    }

    #[test]
    fn a_full_queue_drops_its_oldest_non_priority_command() {
        assert_eq!(
            admit(&user(), false, &queue(3)),
            Admission::Accept { evict: Some(11) }
        );
        let all_priority = QueueState {
            oldest_non_priority: None,
            ..queue(3)
        };
        assert_eq!(admit(&user(), false, &all_priority), Admission::QueueFull);
        let vip = Applicant {
            priority: true,
            ..user()
        };
        assert_eq!(
            admit(&vip, false, &all_priority),
            Admission::Accept { evict: Some(10) }
        );
    }
}
