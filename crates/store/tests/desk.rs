//! The support desk's storage contract (`DeskStore`), run against both backends.
//!
//! As in `repository.rs`, each test is written once against `&dyn Store` and `both!` instantiates it as
//! `sqlite::<name>` and `postgres::<name>`; the PostgreSQL ones need `DC_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). Every test gets a fresh database.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use disconcierge_core::desk::model::{
    EntryKind, GuildSettings, NewKbEntry, NewTicket, NewTicketMessage, NewTrainingEntry,
    ReplySource, TextMatch, Ticket, TicketAuthor, TicketFilter, TicketState, TrainOutcome,
    TrainingEntry, UsedEntry,
};
use disconcierge_core::desk::retrieval::query_terms;
use disconcierge_store::testing::TestDb;
use disconcierge_store::{
    DatabaseKind, ImportReport, KbCreated, Store, StoreError, TicketReservation,
};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(disconcierge_store::DatabaseKind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not(dc_test_postgres), ignore = "PostgreSQL: set DC_TEST_POSTGRES_URL to run")]
                async fn $name() {
                    super::$name(disconcierge_store::DatabaseKind::Postgres).await;
                }
            )*
        }
    };
}

both!(
    guild_settings_are_saved_and_replaced,
    one_ticket_per_user_and_category_is_reserved,
    stale_reservations_are_replaced_and_cancelled_ones_removed,
    concurrent_reservations_make_one_ticket,
    escalation_reenabling_and_closing_change_state_once,
    ticket_messages_are_recorded_once_and_move_the_ticket,
    latest_ticket_messages_come_oldest_first,
    idle_tickets_are_the_live_ones_oldest_first,
    replies_to_the_opener_are_claimed_once_and_taken_over_after_the_lease,
    ticket_lists_filter_and_page_by_id,
    training_creates_and_updates_by_question_key,
    retraining_keeps_the_category_and_tags_it_is_not_given,
    training_lists_deletes_uses_and_stats,
    training_import_is_all_or_nothing,
    knowledge_base_names_are_unique_without_case,
    knowledge_entries_page_import_and_go_with_their_base,
    training_search_ranks_questions_first,
    training_search_matches_any_stemmed_term,
    searches_never_see_another_guild,
    messages_of_only_common_words_find_entries_with_all_of_them,
    training_search_follows_updates_and_deletes,
    knowledge_search_names_its_base_and_filters_by_base,
    embeddings_are_stored_per_model_and_recomputed_after_a_change,
    desk_guilds_are_those_with_any_desk_data,
    trained_answers_are_edited_in_place,
    knowledge_entries_are_edited_and_deleted_one_by_one,
);

/// A fresh, migrated database of `kind`, or `None` when PostgreSQL is not configured.
async fn fresh(kind: DatabaseKind) -> Option<TestDb> {
    match kind {
        DatabaseKind::Sqlite => Some(TestDb::sqlite().await),
        DatabaseKind::Postgres => TestDb::postgres().await,
    }
}

/// Whole seconds, so that values survive the database's microsecond precision unchanged.
fn t0() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn mins(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

const STALE: Duration = Duration::from_secs(300);

fn new_ticket(guild_id: u64, opener_id: u64, category: &str, at: DateTime<Utc>) -> NewTicket {
    NewTicket {
        guild_id,
        category: category.into(),
        opener_id,
        opener_name: format!("user{opener_id}"),
        created_at: at,
    }
}

/// A ticket with a thread (`thread_id` = 1000 + its id).
async fn open_ticket(
    store: &dyn Store,
    guild_id: u64,
    opener_id: u64,
    category: &str,
    at: DateTime<Utc>,
) -> Ticket {
    let reserved = match store
        .reserve_ticket(&new_ticket(guild_id, opener_id, category, at), STALE)
        .await
        .unwrap()
    {
        TicketReservation::Reserved(t) => t,
        other => panic!("expected a new ticket, got {other:?}"),
    };
    store
        .attach_ticket_thread(reserved.id, 1000 + reserved.id as u64)
        .await
        .unwrap()
}

fn message(
    ticket_id: i64,
    message_id: u64,
    author: TicketAuthor,
    at: DateTime<Utc>,
) -> NewTicketMessage {
    NewTicketMessage {
        ticket_id,
        message_id,
        author_id: 7,
        author_name: "ann".into(),
        author,
        content: format!("message {message_id}"),
        source: None,
        used: Vec::new(),
        created_at: at,
    }
}

fn trained(guild_id: u64, question: &str, answer: &str) -> NewTrainingEntry {
    NewTrainingEntry {
        guild_id,
        question: question.into(),
        answer: answer.into(),
        category: None,
        tags: Vec::new(),
        created_by: 5,
    }
}

async fn train_new(store: &dyn Store, entry: NewTrainingEntry) -> TrainingEntry {
    match store.train(&entry, t0()).await.unwrap() {
        TrainOutcome::Created(e) => e,
        other => panic!("expected a new entry, got {other:?}"),
    }
}

fn kb_entry(title: &str, content: &str, tags: &[&str]) -> NewKbEntry {
    NewKbEntry {
        title: title.into(),
        content: content.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

async fn new_kb(store: &dyn Store, guild_id: u64, name: &str) -> i64 {
    match store
        .create_kb(guild_id, name, None, 5, t0())
        .await
        .unwrap()
    {
        KbCreated::Created(kb) => kb.id,
        other => panic!("expected a new knowledge base, got {other:?}"),
    }
}

fn terms(text: &str) -> Vec<String> {
    query_terms(text)
}

fn ids(matches: &[TextMatch]) -> Vec<i64> {
    matches.iter().map(|m| m.id).collect()
}

async fn search_ids(store: &dyn Store, guild_id: u64, text: &str) -> Vec<i64> {
    ids(&store
        .search_training(guild_id, &terms(text), 10, None)
        .await
        .unwrap())
}

// ----- Guild settings -----

async fn guild_settings_are_saved_and_replaced(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    assert_eq!(store.guild_settings(1).await.unwrap(), None);
    let mut settings = GuildSettings {
        guild_id: 1,
        forum_channel_id: 10,
        staff_role_id: 11,
        log_channel_id: Some(12),
        instructions: Some("Be brief.".into()),
        auto_close_after_secs: Some(86_400),
        ai_replies: true,
        training: true,
        member_replies_per_6h: 0,
        member_reply_interval_secs: 0,
        updated_by: 5,
        updated_at: t0(),
    };
    store.save_guild_settings(&settings).await.unwrap();
    assert_eq!(
        store.guild_settings(1).await.unwrap().as_ref(),
        Some(&settings)
    );

    settings.forum_channel_id = 20;
    settings.log_channel_id = None;
    settings.instructions = None;
    settings.auto_close_after_secs = None;
    settings.ai_replies = false;
    settings.training = false;
    settings.member_replies_per_6h = 20;
    settings.member_reply_interval_secs = 30;
    settings.updated_by = 6;
    settings.updated_at = t0() + mins(1);
    store.save_guild_settings(&settings).await.unwrap();
    assert_eq!(
        store.guild_settings(1).await.unwrap().as_ref(),
        Some(&settings)
    );

    // Ids above i64::MAX survive, and guilds are separate.
    let other = GuildSettings {
        guild_id: u64::MAX - 1,
        staff_role_id: u64::MAX,
        ..settings.clone()
    };
    store.save_guild_settings(&other).await.unwrap();
    assert_eq!(
        store.guild_settings(u64::MAX - 1).await.unwrap(),
        Some(other)
    );
    assert_eq!(store.guild_settings(1).await.unwrap(), Some(settings));
}

// ----- Tickets -----

async fn one_ticket_per_user_and_category_is_reserved(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let TicketReservation::Reserved(first) = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now), STALE)
        .await
        .unwrap()
    else {
        panic!("the first reservation makes a ticket");
    };
    assert_eq!(first.thread_id, None);
    assert_eq!(first.state, TicketState::Open);
    assert_eq!(
        (first.guild_id, first.opener_id, first.category.as_str()),
        (1, 7, "billing")
    );
    assert_eq!(first.opener_name, "user7");
    assert_eq!(first.message_count, 0);
    assert_eq!((first.created_at, first.last_activity_at), (now, now));
    assert_eq!(store.ticket(first.id).await.unwrap().as_ref(), Some(&first));

    // A second click while the post is being created: the same ticket, still without its thread.
    let again = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now + mins(1)), STALE)
        .await
        .unwrap();
    assert_eq!(again, TicketReservation::Existing(first.clone()));

    // Another category, another guild, another user: tickets of their own.
    for (guild, user, category) in [(1, 7, "bugs"), (2, 7, "billing"), (1, 8, "billing")] {
        let r = store
            .reserve_ticket(&new_ticket(guild, user, category, now), STALE)
            .await
            .unwrap();
        assert!(
            matches!(r, TicketReservation::Reserved(ref t) if t.id != first.id),
            "{r:?}"
        );
    }

    // The post exists: the ticket gets its thread, found by it.
    let attached = store.attach_ticket_thread(first.id, 500).await.unwrap();
    assert_eq!(attached.thread_id, Some(500));
    assert_eq!(
        store.ticket_by_thread(500).await.unwrap(),
        Some(attached.clone())
    );
    assert_eq!(store.ticket_by_thread(501).await.unwrap(), None);
    // Attaching the same thread again is harmless; another thread is a bug, as is a thread in use.
    assert_eq!(
        store.attach_ticket_thread(first.id, 500).await.unwrap(),
        attached
    );
    assert!(matches!(
        store.attach_ticket_thread(first.id, 501).await,
        Err(StoreError::InvalidArgument(_))
    ));
    let bugs = store
        .list_tickets(
            &TicketFilter {
                opener_id: Some(7),
                guild_id: Some(1),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    let bugs = bugs.iter().find(|t| t.category == "bugs").unwrap();
    assert!(matches!(
        store.attach_ticket_thread(bugs.id, 500).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.attach_ticket_thread(9999, 600).await,
        Err(StoreError::NotFound("ticket"))
    ));

    // An open ticket with a thread is never stale: however late, the user is sent to it.
    let later = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now + mins(600)), STALE)
        .await
        .unwrap();
    assert_eq!(later, TicketReservation::Existing(attached.clone()));
    // Escalated still counts as open.
    assert!(store.escalate_ticket(first.id, now).await.unwrap());
    let r = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now), STALE)
        .await
        .unwrap();
    assert!(
        matches!(r, TicketReservation::Existing(ref t) if t.id == first.id && t.state == TicketState::Escalated)
    );

    // Once closed, the user may open a new one.
    store
        .close_ticket(first.id, 9, None, now)
        .await
        .unwrap()
        .unwrap();
    let r = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now + mins(2)), STALE)
        .await
        .unwrap();
    let TicketReservation::Reserved(second) = r else {
        panic!("a closed ticket allows a new one: {r:?}");
    };
    assert_ne!(second.id, first.id);
    assert_eq!(second.thread_id, None);
}

async fn stale_reservations_are_replaced_and_cancelled_ones_removed(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let abandoned = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now), STALE)
        .await
        .unwrap();
    let abandoned = abandoned.ticket().clone();
    // Within stale_after: still the same reservation.
    let r = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now + mins(5)), STALE)
        .await
        .unwrap();
    assert_eq!(r, TicketReservation::Existing(abandoned.clone()));
    // Past it (the process died before creating the post): replaced.
    let r = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now + mins(6)), STALE)
        .await
        .unwrap();
    let TicketReservation::Reserved(fresh_one) = r else {
        panic!("a stale reservation is replaced: {r:?}");
    };
    assert_ne!(fresh_one.id, abandoned.id);
    assert_eq!(fresh_one.created_at, now + mins(6));
    assert_eq!(store.ticket(abandoned.id).await.unwrap(), None);
    // Whoever held the old reservation finds it gone when attaching its post.
    assert!(matches!(
        store.attach_ticket_thread(abandoned.id, 77).await,
        Err(StoreError::NotFound("ticket"))
    ));

    // The forum post could not be created: the reservation is cancelled and the user may try again.
    store.cancel_ticket_reservation(fresh_one.id).await.unwrap();
    assert_eq!(store.ticket(fresh_one.id).await.unwrap(), None);
    let r = store
        .reserve_ticket(&new_ticket(1, 7, "billing", now + mins(7)), STALE)
        .await
        .unwrap();
    assert!(matches!(r, TicketReservation::Reserved(_)), "{r:?}");
    // Cancelling never removes a ticket that has its thread (nor fails on an unknown one).
    let with_thread = store.attach_ticket_thread(r.ticket().id, 88).await.unwrap();
    store
        .cancel_ticket_reservation(with_thread.id)
        .await
        .unwrap();
    store.cancel_ticket_reservation(12345).await.unwrap();
    assert_eq!(
        store.ticket(with_thread.id).await.unwrap(),
        Some(with_thread)
    );
}

async fn concurrent_reservations_make_one_ticket(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let now = t0();
    // Two instances of the bot, each with its own pool, reserving for the same double click.
    let stores = [db.store.clone(), db.connect_again().await];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            store
                .reserve_ticket(&new_ticket(1, 7, "billing", now), STALE)
                .await
                .unwrap()
        }));
    }
    let mut reserved = 0;
    let mut ids = BTreeSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        if matches!(r, TicketReservation::Reserved(_)) {
            reserved += 1;
        }
        ids.insert(r.ticket().id);
    }
    assert_eq!(reserved, 1, "exactly one reservation wins");
    assert_eq!(ids.len(), 1, "everyone else is sent to it: {ids:?}");
}

async fn escalation_reenabling_and_closing_change_state_once(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let ticket = open_ticket(store, 1, 7, "billing", now).await;

    assert!(
        store
            .escalate_ticket(ticket.id, now + mins(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .escalate_ticket(ticket.id, now + mins(2))
            .await
            .unwrap(),
        "staff are pinged once"
    );
    let t = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(
        (t.state, t.escalated_at),
        (TicketState::Escalated, Some(now + mins(1)))
    );

    assert!(store.reenable_ticket_ai(ticket.id).await.unwrap());
    assert!(!store.reenable_ticket_ai(ticket.id).await.unwrap());
    let t = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(t.state, TicketState::Open);
    assert_eq!(
        t.escalated_at,
        Some(now + mins(1)),
        "kept after re-enabling"
    );
    assert!(
        store
            .escalate_ticket(ticket.id, now + mins(3))
            .await
            .unwrap(),
        "may escalate again"
    );

    let closed = store
        .close_ticket(ticket.id, 9, Some("solved"), now + mins(4))
        .await
        .unwrap()
        .expect("the first close wins");
    assert_eq!(closed.state, TicketState::Closed);
    assert_eq!(closed.closed_by, Some(9));
    assert_eq!(closed.close_reason.as_deref(), Some("solved"));
    assert_eq!(closed.closed_at, Some(now + mins(4)));
    assert_eq!(store.ticket(ticket.id).await.unwrap(), Some(closed.clone()));
    assert_eq!(
        store
            .close_ticket(ticket.id, 10, None, now + mins(5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.ticket(ticket.id).await.unwrap(),
        Some(closed),
        "the second close changed nothing"
    );
    assert!(!store.escalate_ticket(ticket.id, now).await.unwrap());
    assert!(!store.reenable_ticket_ai(ticket.id).await.unwrap());

    // Unknown tickets: nothing to change, no error.
    assert!(!store.escalate_ticket(999, now).await.unwrap());
    assert_eq!(store.close_ticket(999, 9, None, now).await.unwrap(), None);
}

async fn ticket_messages_are_recorded_once_and_move_the_ticket(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let ticket = open_ticket(store, 1, 7, "billing", now).await;

    let first = message(ticket.id, 100, TicketAuthor::Opener, now + mins(1));
    let first_id = store
        .record_ticket_message(&first)
        .await
        .unwrap()
        .expect("recorded");
    // Delivered twice (a gateway resume, two instances): stored once, counted once.
    assert_eq!(store.record_ticket_message(&first).await.unwrap(), None);
    let t = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!((t.message_count, t.last_activity_at), (1, now + mins(1)));

    // The inactivity warning (a bot message) does not clear the warning; the user's answer does.
    store
        .mark_ticket_warned(ticket.id, now + mins(30))
        .await
        .unwrap();
    let mut warning = message(ticket.id, 101, TicketAuthor::Bot, now + mins(30));
    warning.source = Some(ReplySource::Notice);
    store
        .record_ticket_message(&warning)
        .await
        .unwrap()
        .unwrap();
    let t = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(t.inactivity_warned_at, Some(now + mins(30)));
    assert_eq!((t.message_count, t.last_activity_at), (2, now + mins(30)));

    let mut reply = message(ticket.id, 102, TicketAuthor::Staff, now + mins(31));
    reply.used = vec![UsedEntry {
        kind: EntryKind::Training,
        id: 4,
        confidence: 0.87,
    }];
    store.record_ticket_message(&reply).await.unwrap().unwrap();
    let t = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(t.inactivity_warned_at, None);
    assert_eq!((t.message_count, t.last_activity_at), (3, now + mins(31)));

    // A message that arrives late (older than the last activity) counts but does not move it back.
    let late = message(ticket.id, 103, TicketAuthor::Member, now + mins(20));
    store.record_ticket_message(&late).await.unwrap().unwrap();
    let t = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!((t.message_count, t.last_activity_at), (4, now + mins(31)));

    // Everything round-trips, in time order.
    let all = store.ticket_messages(ticket.id, None).await.unwrap();
    let stored: Vec<&NewTicketMessage> = all.iter().map(|m| &m.message).collect();
    assert_eq!(stored, [&first, &late, &warning, &reply]);
    assert_eq!(all[0].id, first_id);

    assert!(matches!(
        store
            .record_ticket_message(&message(999, 104, TicketAuthor::Opener, now))
            .await,
        Err(StoreError::NotFound("ticket"))
    ));
    assert!(matches!(
        store.mark_ticket_warned(999, now).await,
        Err(StoreError::NotFound("ticket"))
    ));
}

async fn latest_ticket_messages_come_oldest_first(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let ticket = open_ticket(store, 1, 7, "billing", now).await;
    let other = open_ticket(store, 1, 8, "billing", now).await;
    for i in 0..6u64 {
        store
            .record_ticket_message(&message(
                ticket.id,
                200 + i,
                TicketAuthor::Opener,
                now + mins(i as i64),
            ))
            .await
            .unwrap();
        store
            .record_ticket_message(&message(other.id, 300 + i, TicketAuthor::Opener, now))
            .await
            .unwrap();
    }
    let message_ids = |msgs: Vec<disconcierge_core::desk::model::TicketMessage>| {
        msgs.into_iter()
            .map(|m| m.message.message_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        message_ids(store.ticket_messages(ticket.id, Some(3)).await.unwrap()),
        [203, 204, 205]
    );
    assert_eq!(
        message_ids(store.ticket_messages(ticket.id, Some(10)).await.unwrap()),
        [200, 201, 202, 203, 204, 205]
    );
    assert_eq!(
        message_ids(store.ticket_messages(ticket.id, None).await.unwrap()).len(),
        6
    );
    assert!(
        store
            .ticket_messages(ticket.id, Some(0))
            .await
            .unwrap()
            .is_empty()
    );
    // Same time: the order they were recorded in.
    assert_eq!(
        message_ids(store.ticket_messages(other.id, Some(2)).await.unwrap()),
        [304, 305]
    );
    assert!(store.ticket_messages(999, None).await.unwrap().is_empty());
}

async fn replies_to_the_opener_are_claimed_once_and_taken_over_after_the_lease(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let t = open_ticket(store, 1, 7, "a", now - mins(10)).await;
    let row = |m: u64, author, at| async move {
        store
            .record_ticket_message(&message(t.id, m, author, at))
            .await
            .unwrap()
            .unwrap()
    };
    let question = row(1, TicketAuthor::Opener, now - mins(5)).await;
    let staff = row(2, TicketAuthor::Staff, now - mins(5)).await;
    let fresh_question = row(3, TicketAuthor::Opener, now).await;
    let unanswered = |before, at| async move {
        store
            .unanswered_ticket_messages(before, at, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect::<Vec<_>>()
    };
    // Not handled and older than the cut-off: the first question only (staff messages get no reply, the
    // newest is still the live path's).
    assert_eq!(unanswered(now - mins(1), now).await, [question]);
    assert!(
        !store
            .claim_ticket_reply(staff, "a", now + mins(5), now)
            .await
            .unwrap()
    );

    // One holder at a time; finishing needs the lease.
    assert!(
        store
            .claim_ticket_reply(question, "a", now + mins(5), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_ticket_reply(question, "b", now + mins(5), now)
            .await
            .unwrap()
    );
    assert!(unanswered(now - mins(1), now).await.is_empty());
    // Its holder died: after the lease it is offered again and taken over once.
    let later = now + mins(6);
    assert_eq!(unanswered(now - mins(1), later).await, [question]);
    assert!(
        store
            .claim_ticket_reply(question, "b", later + mins(5), later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_ticket_reply(question, "a", true)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_ticket_reply(question, "b", true)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_ticket_reply(question, "c", later + mins(60), later + mins(30))
            .await
            .unwrap()
    );
    // Skipped (escalated meanwhile) is handled too.
    assert!(
        store
            .claim_ticket_reply(fresh_question, "a", now + mins(5), now)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_ticket_reply(fresh_question, "a", false)
            .await
            .unwrap()
    );
    assert!(
        unanswered(later + mins(60), later + mins(60))
            .await
            .is_empty()
    );
}

async fn idle_tickets_are_the_live_ones_oldest_first(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let oldest = open_ticket(store, 1, 1, "a", now - mins(100)).await;
    let escalated = open_ticket(store, 2, 2, "a", now - mins(90)).await;
    store.escalate_ticket(escalated.id, now).await.unwrap();
    let closed = open_ticket(store, 1, 3, "a", now - mins(95)).await;
    store.close_ticket(closed.id, 9, None, now).await.unwrap();
    let recent = open_ticket(store, 1, 4, "a", now - mins(80)).await;
    let active = open_ticket(store, 1, 5, "a", now - mins(100)).await;
    store
        .record_ticket_message(&message(active.id, 1, TicketAuthor::Opener, now - mins(1)))
        .await
        .unwrap();
    // A reservation has no post to warn in.
    store
        .reserve_ticket(&new_ticket(1, 6, "a", now - mins(100)), STALE)
        .await
        .unwrap();

    let idle = |since, limit| async move {
        store
            .idle_tickets(1, since, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(idle(now - mins(60), 10).await, [oldest.id, recent.id]);
    assert_eq!(idle(now - mins(60), 1).await, [oldest.id]);
    assert_eq!(idle(now - mins(85), 10).await, [oldest.id]);
    assert!(idle(now - mins(200), 10).await.is_empty());
    // Another guild's idle tickets are its own (an escalated one is still live).
    let other: Vec<i64> = store
        .idle_tickets(2, now - mins(60), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(other, [escalated.id]);

    // Only guilds that close idle tickets are listed.
    let settings = |guild_id, auto_close_after_secs| GuildSettings {
        guild_id,
        forum_channel_id: 10,
        staff_role_id: 20,
        log_channel_id: None,
        instructions: None,
        auto_close_after_secs,
        ai_replies: true,
        training: true,
        member_replies_per_6h: 0,
        member_reply_interval_secs: 0,
        updated_by: 1,
        updated_at: now,
    };
    store
        .save_guild_settings(&settings(1, Some(3600)))
        .await
        .unwrap();
    store.save_guild_settings(&settings(2, None)).await.unwrap();
    store
        .save_guild_settings(&settings(3, Some(60)))
        .await
        .unwrap();
    let closing: Vec<u64> = store
        .auto_close_settings()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.guild_id)
        .collect();
    assert_eq!(closing, [1, 3]);
}

async fn ticket_lists_filter_and_page_by_id(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    // Guild 1: users 1..=4; guild 2: users 1..=2. User 2's tickets are closed.
    let mut ids = Vec::new();
    for (guild, user) in [(1, 1), (1, 2), (2, 1), (1, 3), (2, 2), (1, 4)] {
        let t = open_ticket(store, guild, user, "general", now).await;
        if user == 2 {
            store.close_ticket(t.id, 9, None, now).await.unwrap();
        }
        ids.push(t.id);
    }
    let list = |filter: TicketFilter, limit| async move {
        store
            .list_tickets(&filter, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>()
    };
    let all = list(TicketFilter::default(), 50).await;
    assert_eq!(
        all,
        ids.iter().rev().copied().collect::<Vec<_>>(),
        "newest first"
    );
    let page1 = list(TicketFilter::default(), 4).await;
    let page2 = list(
        TicketFilter {
            before_id: Some(page1[3]),
            ..Default::default()
        },
        4,
    )
    .await;
    assert_eq!([page1, page2].concat(), all);

    assert_eq!(
        list(
            TicketFilter {
                guild_id: Some(2),
                ..Default::default()
            },
            50
        )
        .await,
        [ids[4], ids[2]]
    );
    assert_eq!(
        list(
            TicketFilter {
                opener_id: Some(1),
                ..Default::default()
            },
            50
        )
        .await,
        [ids[2], ids[0]]
    );
    assert_eq!(
        list(
            TicketFilter {
                state: Some(TicketState::Closed),
                ..Default::default()
            },
            50
        )
        .await,
        [ids[4], ids[1]]
    );
    assert_eq!(
        list(
            TicketFilter {
                guild_id: Some(1),
                state: Some(TicketState::Open),
                before_id: Some(ids[5]),
                ..Default::default()
            },
            50
        )
        .await,
        [ids[3], ids[0]]
    );
    assert!(
        list(
            TicketFilter {
                guild_id: Some(3),
                ..Default::default()
            },
            50
        )
        .await
        .is_empty()
    );
}

// ----- Trained answers -----

async fn retraining_keeps_the_category_and_tags_it_is_not_given(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let first = NewTrainingEntry {
        category: Some("billing".into()),
        tags: vec!["refund".into()],
        ..trained(1, "Can I get a refund?", "Within 30 days.")
    };
    train_new(store, first).await;
    let updated = |outcome| match outcome {
        TrainOutcome::Updated { entry, .. } => entry,
        other => panic!("expected an update, got {other:?}"),
    };
    let again = updated(
        store
            .train(&trained(1, "can i get a refund", "Within 60 days."), t0())
            .await
            .unwrap(),
    );
    assert_eq!(again.answer, "Within 60 days.");
    assert_eq!(again.category.as_deref(), Some("billing"));
    assert_eq!(again.tags, ["refund"]);
    let changed = NewTrainingEntry {
        category: Some("returns".into()),
        tags: vec!["policy".into()],
        ..trained(1, "Can I get a refund?", "Within 60 days.")
    };
    let changed = updated(store.train(&changed, t0()).await.unwrap());
    assert_eq!(changed.category.as_deref(), Some("returns"));
    assert_eq!(changed.tags, ["policy"]);
}

async fn training_creates_and_updates_by_question_key(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let mut entry = trained(
        1,
        "How do I reset my password?",
        "Use the link on the login page.",
    );
    entry.category = Some("account".into());
    entry.tags = vec!["password".into(), "login".into()];
    let TrainOutcome::Created(created) = store.train(&entry, now).await.unwrap() else {
        panic!("a new question makes a new entry");
    };
    assert_eq!(created.question, entry.question);
    assert_eq!(created.answer, entry.answer);
    assert_eq!(created.category.as_deref(), Some("account"));
    assert_eq!(created.tags, ["password", "login"]);
    assert_eq!(
        (created.guild_id, created.created_by, created.uses),
        (1, 5, 0)
    );
    assert_eq!(
        (created.created_at, created.updated_at, created.last_used_at),
        (now, now, None)
    );
    store
        .record_training_use(&[created.id], now + mins(1))
        .await
        .unwrap();

    // The same question, cased, spaced and punctuated differently, by someone else: an update.
    let mut again = trained(
        1,
        "  how do i RESET my password ",
        "Open Settings, then Security.",
    );
    again.created_by = 6;
    again.tags = vec!["security".into()];
    let outcome = store.train(&again, now + mins(2)).await.unwrap();
    let TrainOutcome::Updated {
        entry: updated,
        previous_answer,
    } = outcome
    else {
        panic!("the same question updates: {outcome:?}");
    };
    assert_eq!(previous_answer, "Use the link on the login page.");
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.question, "  how do i RESET my password ");
    assert_eq!(updated.answer, "Open Settings, then Security.");
    assert_eq!(
        updated.category.as_deref(),
        Some("account"),
        "no category given: kept"
    );
    assert_eq!(updated.tags, ["security"]);
    assert_eq!(
        (updated.created_at, updated.updated_at),
        (now, now + mins(2))
    );
    assert_eq!(
        (updated.created_by, updated.uses),
        (5, 1),
        "creator and uses kept"
    );
    assert_eq!(updated.last_used_at, Some(now + mins(1)));
    assert_eq!(
        store.training_entry(1, created.id).await.unwrap(),
        Some(updated)
    );

    // A different question (one word more), or the same one in another guild: new entries.
    let other = train_new(
        store,
        trained(1, "How do I reset my password twice?", "Why?"),
    )
    .await;
    assert_ne!(other.id, created.id);
    let elsewhere = train_new(
        store,
        trained(2, "How do I reset my password?", "Ask an admin."),
    )
    .await;
    assert_eq!(elsewhere.guild_id, 2);
    assert_eq!(
        store.training_entry(2, created.id).await.unwrap(),
        None,
        "not another guild's"
    );

    // A question without a word, or no answer, is refused by the database.
    for bad in [trained(1, "?!", "answer"), trained(1, "A question", "")] {
        let err = store.train(&bad, now).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidArgument(_)), "{err:?}");
    }
    assert_eq!(store.export_training(1).await.unwrap().len(), 2);
}

async fn training_lists_deletes_uses_and_stats(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let mut entries = Vec::new();
    for (i, category) in [
        Some("billing"),
        None,
        Some("account"),
        Some("billing"),
        None,
        Some("billing"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = trained(1, &format!("question number {i}"), &format!("answer {i}"));
        e.category = category.map(Into::into);
        entries.push(train_new(store, e).await);
    }
    train_new(store, trained(2, "question number 0", "another guild's")).await;
    let id_of = |i: usize| entries[i].id;

    let (page, total) = store.list_training(1, None, 0, 4).await.unwrap();
    assert_eq!(
        (page.iter().map(|e| e.id).collect::<Vec<_>>(), total),
        (vec![id_of(0), id_of(1), id_of(2), id_of(3)], 6)
    );
    let (page, total) = store.list_training(1, None, 4, 4).await.unwrap();
    assert_eq!(
        (page.iter().map(|e| e.id).collect::<Vec<_>>(), total),
        (vec![id_of(4), id_of(5)], 6)
    );
    let (page, total) = store
        .list_training(1, Some("billing"), 1, 10)
        .await
        .unwrap();
    assert_eq!(
        (page.iter().map(|e| e.id).collect::<Vec<_>>(), total),
        (vec![id_of(3), id_of(5)], 3)
    );
    assert_eq!(
        store
            .list_training(1, Some("Billing"), 0, 10)
            .await
            .unwrap()
            .1,
        3,
        "a category in any case"
    );
    assert_eq!(
        store
            .list_training(1, Some("billings"), 0, 10)
            .await
            .unwrap()
            .1,
        0,
        "no other category"
    );
    // Two categories differing only in case: the exact spelling wins.
    let mut shouting = trained(1, "question number 9", "answer 9");
    shouting.category = Some("BILLING".into());
    let loud = train_new(store, shouting).await;
    let (page, total) = store
        .list_training(1, Some("BILLING"), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        (page.iter().map(|e| e.id).collect::<Vec<_>>(), total),
        (vec![loud.id], 1)
    );
    assert_eq!(
        store
            .list_training(1, Some("billing"), 0, 10)
            .await
            .unwrap()
            .1,
        3
    );
    assert!(store.delete_training(1, loud.id).await.unwrap());
    assert_eq!(
        store.list_training(3, None, 0, 10).await.unwrap(),
        (vec![], 0)
    );

    // Uses: an id twice counts once; unknown ids are ignored.
    store
        .record_training_use(&[id_of(2), id_of(2), id_of(5), 9999], now + mins(1))
        .await
        .unwrap();
    store
        .record_training_use(&[id_of(5)], now + mins(2))
        .await
        .unwrap();
    store.record_training_use(&[], now).await.unwrap();
    let e5 = store.training_entry(1, id_of(5)).await.unwrap().unwrap();
    assert_eq!((e5.uses, e5.last_used_at), (2, Some(now + mins(2))));
    let e2 = store.training_entry(1, id_of(2)).await.unwrap().unwrap();
    assert_eq!((e2.uses, e2.last_used_at), (1, Some(now + mins(1))));

    // Replies counted for the stats: the bot's, by source, in this guild only.
    let ticket = open_ticket(store, 1, 7, "billing", now).await;
    let ticket2 = open_ticket(store, 2, 7, "billing", now).await;
    let sources = [
        (ticket.id, Some(ReplySource::Llm)),
        (ticket.id, Some(ReplySource::Trained)),
        (ticket.id, Some(ReplySource::Trained)),
        (ticket.id, Some(ReplySource::Fallback)),
        (ticket.id, Some(ReplySource::Notice)),
        (ticket.id, Some(ReplySource::StaffFollowUp)),
        (ticket.id, None),
        (ticket2.id, Some(ReplySource::Trained)),
    ];
    for (i, (ticket_id, source)) in sources.into_iter().enumerate() {
        let mut m = message(ticket_id, 500 + i as u64, TicketAuthor::Bot, now);
        m.source = source;
        store.record_ticket_message(&m).await.unwrap().unwrap();
    }

    let stats = store.training_stats(1).await.unwrap();
    assert_eq!(stats.entries, 6);
    assert_eq!(
        stats.by_category,
        [
            (Some("billing".to_string()), 3),
            (None, 2),
            (Some("account".to_string()), 1)
        ]
    );
    assert_eq!(
        stats.most_used.iter().map(|e| e.id).collect::<Vec<_>>(),
        [id_of(5), id_of(2)]
    );
    assert_eq!((stats.replies, stats.trained_replies), (4, 2));
    let empty = store.training_stats(3).await.unwrap();
    assert_eq!(
        (
            empty.entries,
            empty.replies,
            empty.by_category.len(),
            empty.most_used.len()
        ),
        (0, 0, 0, 0)
    );

    // Deleting: only in its own guild.
    assert!(!store.delete_training(2, id_of(0)).await.unwrap());
    assert!(store.delete_training(1, id_of(0)).await.unwrap());
    assert!(!store.delete_training(1, id_of(0)).await.unwrap());
    assert_eq!(store.training_entry(1, id_of(0)).await.unwrap(), None);
    let export = store.export_training(1).await.unwrap();
    assert_eq!(
        export.iter().map(|e| e.id).collect::<Vec<_>>(),
        (1..6).map(id_of).collect::<Vec<_>>()
    );
    assert_eq!(export[4], e5);
    assert_eq!(store.export_training(2).await.unwrap().len(), 1);
}

async fn training_import_is_all_or_nothing(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let existing = train_new(
        store,
        trained(1, "Where are the invoices?", "On the billing page."),
    )
    .await;

    let report = store
        .import_training(
            &[
                trained(1, "How do I reset my password?", "Use the link."),
                trained(1, "WHERE are the invoices", "In the billing tab."),
                trained(1, "How do I reset my password", "Use the reset link."),
                trained(2, "How do I reset my password?", "Ask an admin."),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!((report.created, report.updated), (2, 2));
    // Each entry's id in the file's order: the invoices question is the existing entry, and the
    // password question of guild 1 is one entry, updated by the third line.
    let ids = &report.ids;
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[1], existing.id);
    assert_eq!(ids[0], ids[2]);
    assert!(ids[3] != ids[0] && ids[3] != ids[1], "{ids:?}");
    let guild1 = store.export_training(1).await.unwrap();
    assert_eq!(guild1.len(), 2);
    assert_eq!(guild1[0].id, existing.id);
    assert_eq!(guild1[0].answer, "In the billing tab.");
    assert_eq!(guild1[1].answer, "Use the reset link.");
    assert_eq!(store.export_training(2).await.unwrap().len(), 1);

    // The third entry breaks a constraint of the database (an empty answer): the first two, an update
    // and a new entry, written before it in the same transaction, are rolled back.
    let err = store
        .import_training(
            &[
                trained(1, "Where are the invoices?", "Changed."),
                trained(1, "A brand new question", "A brand new answer."),
                trained(1, "Broken entry", ""),
            ],
            now + mins(1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidArgument(ref m) if m.contains("answer")),
        "{err:?}"
    );
    assert_eq!(
        store.export_training(1).await.unwrap(),
        guild1,
        "nothing written"
    );
    assert!(
        search_ids(store, 1, "brand new").await.is_empty(),
        "nor indexed"
    );
    // The store is usable afterwards (the transaction was not left open).
    assert_eq!(
        store.import_training(&[], now).await.unwrap(),
        ImportReport::default()
    );
    train_new(store, trained(1, "A brand new question", "Now it works.")).await;
}

// ----- Knowledge bases -----

async fn knowledge_base_names_are_unique_without_case(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let KbCreated::Created(docs) = store
        .create_kb(1, " Docs ", Some("Product docs"), 5, now)
        .await
        .unwrap()
    else {
        panic!("new name");
    };
    assert_eq!(docs.name, "Docs", "trimmed");
    assert_eq!(docs.description.as_deref(), Some("Product docs"));
    assert_eq!(
        (
            docs.guild_id,
            docs.created_by,
            docs.entry_count,
            docs.created_at
        ),
        (1, 5, 0, now)
    );
    let again = store
        .create_kb(1, "DOCS", None, 6, now + mins(1))
        .await
        .unwrap();
    assert_eq!(again, KbCreated::Exists(docs.clone()), "unchanged");
    let KbCreated::Created(elsewhere) = store.create_kb(2, "docs", None, 5, now).await.unwrap()
    else {
        panic!("another guild's namespace");
    };
    assert_ne!(elsewhere.id, docs.id);
    let faq = new_kb(store, 1, "faq").await;
    store
        .add_kb_entry(faq, &kb_entry("Refunds", "Within 30 days.", &[]), 5, now)
        .await
        .unwrap();
    store
        .add_kb_entry(faq, &kb_entry("Shipping", "Two days.", &[]), 5, now)
        .await
        .unwrap();

    assert_eq!(
        store.kb_by_name(1, "dOcS").await.unwrap(),
        Some(docs.clone())
    );
    assert_eq!(store.kb_by_name(3, "docs").await.unwrap(), None);
    assert_eq!(store.kb(1, docs.id).await.unwrap(), Some(docs.clone()));
    assert_eq!(
        store.kb(2, docs.id).await.unwrap(),
        None,
        "not another guild's"
    );
    let list = store.list_kbs(1).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|k| (k.name.as_str(), k.entry_count))
            .collect::<Vec<_>>(),
        [("Docs", 0), ("faq", 2)]
    );
    assert_eq!(store.kb(1, faq).await.unwrap().unwrap().entry_count, 2);
    assert!(matches!(
        store.create_kb(1, "   ", None, 5, now).await,
        Err(StoreError::InvalidArgument(_))
    ));
}

async fn knowledge_entries_page_import_and_go_with_their_base(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let kb = new_kb(store, 1, "docs").await;
    let other = new_kb(store, 1, "other").await;
    let first = store
        .add_kb_entry(
            kb,
            &kb_entry(
                "Refunds",
                "Within 30 days of purchase.",
                &["billing", "money"],
            ),
            5,
            now,
        )
        .await
        .unwrap();
    assert_eq!((first.kb_id, first.guild_id, first.created_by), (kb, 1, 5));
    assert_eq!((first.title.as_str(), first.tags.len()), ("Refunds", 2));
    assert_eq!((first.created_at, first.updated_at), (now, now));
    store
        .add_kb_entry(other, &kb_entry("Elsewhere", "Not in docs.", &[]), 5, now)
        .await
        .unwrap();

    let imported: Vec<NewKbEntry> = (1..=4)
        .map(|i| kb_entry(&format!("Topic {i}"), &format!("About topic {i}."), &[]))
        .collect();
    let added = store
        .import_kb_entries(kb, &imported, 6, now)
        .await
        .unwrap();
    assert_eq!(added.len(), 4);
    assert!(
        added.windows(2).all(|w| w[0] < w[1]),
        "in the file's order: {added:?}"
    );
    let (page, total) = store.kb_entries(kb, 1, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|e| e.title.as_str()).collect::<Vec<_>>(),
        ["Topic 1", "Topic 2"]
    );
    assert_eq!(page[0].created_by, 6);
    let all = store.all_kb_entries(kb).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0], first);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));

    // One entry the database refuses (an empty title): none of the batch is added, nor indexed.
    let batch = [
        kb_entry("Warranty", "Two years.", &[]),
        kb_entry("", "No title.", &[]),
        kb_entry("Returns", "Free.", &[]),
    ];
    let err = store
        .import_kb_entries(kb, &batch, 6, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidArgument(ref m) if m.contains("title")),
        "{err:?}"
    );
    assert_eq!(store.kb_entries(kb, 0, 100).await.unwrap().1, 5);
    assert!(
        store
            .search_knowledge(1, None, &terms("warranty"), 10, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown knowledge bases.
    assert!(matches!(
        store.add_kb_entry(999, &batch[0], 5, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.import_kb_entries(999, &batch[..1], 5, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.import_kb_entries(999, &[], 5, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .import_kb_entries(kb, &[], 5, now)
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting a knowledge base takes its entries, and their place in the index, with it.
    assert_eq!(
        ids(&store
            .search_knowledge(1, None, &terms("refunds"), 10, None)
            .await
            .unwrap()),
        [first.id]
    );
    assert!(
        !store.delete_kb(2, kb).await.unwrap(),
        "not another guild's"
    );
    assert!(store.delete_kb(1, kb).await.unwrap());
    assert!(!store.delete_kb(1, kb).await.unwrap());
    assert_eq!(store.kb(1, kb).await.unwrap(), None);
    assert!(store.all_kb_entries(kb).await.unwrap().is_empty());
    assert!(
        store
            .search_knowledge(1, None, &terms("refunds topic"), 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.all_kb_entries(other).await.unwrap().len(),
        1,
        "other bases keep theirs"
    );
    assert_eq!(
        store
            .search_knowledge(1, None, &terms("elsewhere"), 10, None)
            .await
            .unwrap()
            .len(),
        1
    );
}

// ----- Retrieval -----

/// Guild `guild`'s trained answers for the search tests: (password question, answer mentioning the
/// password, unrelated, tagged).
async fn seed_training(store: &dyn Store, guild: u64) -> [i64; 4] {
    let question = train_new(
        store,
        trained(
            guild,
            "How do I reset my password?",
            "Open the account page and follow the link.",
        ),
    )
    .await;
    let in_answer = train_new(
        store,
        trained(
            guild,
            "Where are my invoices?",
            "On the billing page. To reset a password, see the account page.",
        ),
    )
    .await;
    let unrelated = train_new(
        store,
        trained(guild, "What are your opening hours?", "Nine to five."),
    )
    .await;
    let mut tagged = trained(guild, "Can I get my money back?", "Yes, within 30 days.");
    tagged.tags = vec!["refund".into()];
    let tagged = train_new(store, tagged).await;
    [question.id, in_answer.id, unrelated.id, tagged.id]
}

async fn training_search_ranks_questions_first(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let [question, in_answer, _, _] = seed_training(store, 1).await;
    // Both mention resetting a password; the one whose question does comes first.
    let found = store
        .search_training(1, &terms("reset password"), 10, None)
        .await
        .unwrap();
    assert_eq!(ids(&found), [question, in_answer]);
    assert_eq!(found[0].kind, EntryKind::Training);
    assert_eq!(found[0].title, "How do I reset my password?");
    assert_eq!(found[0].body, "Open the account page and follow the link.");
    assert_eq!(
        (found[0].source.as_ref(), found[0].embedding.as_ref()),
        (None, None)
    );
    // The limit keeps the best.
    assert_eq!(
        ids(&store
            .search_training(1, &terms("reset password"), 1, None)
            .await
            .unwrap()),
        [question]
    );
    assert!(
        store
            .search_training(1, &terms("reset password"), 0, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn training_search_matches_any_stemmed_term(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let [question, in_answer, unrelated, tagged] = seed_training(store, 1).await;
    // Any term is enough (OR): "hours" only matches the third.
    let found: BTreeSet<i64> = search_ids(store, 1, "password hours")
        .await
        .into_iter()
        .collect();
    assert_eq!(found, BTreeSet::from([question, in_answer, unrelated]));
    // Stemming both ways: "passwords" finds "password", "resetting" finds "reset".
    assert_eq!(
        search_ids(store, 1, "passwords").await,
        [question, in_answer]
    );
    assert_eq!(
        search_ids(store, 1, "resetting").await,
        [question, in_answer]
    );
    // Tags are searched ("refunds" → "refund").
    assert_eq!(search_ids(store, 1, "refunds").await, [tagged]);
    // "how" is a stop word for PostgreSQL's English configuration: it must not empty the query.
    assert_eq!(search_ids(store, 1, "how password").await[0], question);
    // Alone it matches nothing there (and is no error); SQLite has no stop words.
    let only_stop_words = store
        .search_training(1, &["how".to_string()], 10, None)
        .await
        .unwrap();
    let expected = match kind {
        DatabaseKind::Sqlite => vec![question],
        DatabaseKind::Postgres => vec![],
    };
    assert_eq!(ids(&only_stop_words), expected);
    // Nothing to search for; odd characters are dropped rather than read as query syntax.
    assert!(
        store
            .search_training(1, &[], 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_training(1, &["?!".to_string(), String::new()], 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    let odd = [
        "pass\"word*".to_string(),
        "NEAR(".to_string(),
        "-hours:".to_string(),
        "'x' | y".to_string(),
    ];
    let found: BTreeSet<i64> = ids(&store.search_training(1, &odd, 10, None).await.unwrap())
        .into_iter()
        .collect();
    assert_eq!(found, BTreeSet::from([question, in_answer, unrelated]));
    assert!(
        search_ids(store, 1, "nothing matches zebra")
            .await
            .is_empty()
    );
}

async fn messages_of_only_common_words_find_entries_with_all_of_them(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    // 1,200 entries with "kettle" and "water" (more than the SQLite backend ranks for one search),
    // a few with only one of them, in this guild and in another.
    let mut entries = Vec::new();
    for i in 0..1_200 {
        let question = match i % 3 {
            0 => format!("kettle water boil {i}"),
            1 => format!("kettle lid {i}"),
            _ => format!("water tap {i}"),
        };
        entries.push(trained(1, &question, "answer"));
        entries.push(trained(2, &format!("kettle water {i}"), "answer"));
    }
    // Both words now appear in over 1,000 entries each.
    for i in 0..700 {
        entries.push(trained(1, &format!("kettle water pour {i}"), "answer"));
    }
    store.import_training(&entries, t0()).await.unwrap();
    let found = store
        .search_training(1, &terms("kettle water"), 10, None)
        .await
        .unwrap();
    assert_eq!(found.len(), 10);
    for m in &found {
        assert!(
            m.title.contains("kettle") && m.title.contains("water"),
            "{m:?}"
        );
    }
    let found = store
        .search_knowledge(1, None, &terms("kettle water"), 10, None)
        .await
        .unwrap();
    assert!(found.is_empty());

    // Once the table has statistics (autovacuum's ANALYZE), PostgreSQL takes the common words from
    // them instead of counting: the same answers, from a process that has counted nothing yet.
    store
        .import_training(&[trained(1, "kettle descaling vinegar", "answer")], t0())
        .await
        .unwrap();
    if kind == DatabaseKind::Postgres {
        db.execute("ANALYZE training_entries").await;
        assert!(
            db.scalar_i64(
                "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'training_entries' \
                 AND attname = 'search' AND 'kettl' = ANY (CAST(CAST(most_common_elems AS TEXT) AS TEXT[]))"
            )
            .await
                == 1,
            "the statistics list the common word"
        );
    }
    let again = db.connect_again().await;
    let found = again
        .search_training(1, &terms("kettle water"), 10, None)
        .await
        .unwrap();
    assert_eq!(found.len(), 10);
    assert!(
        found
            .iter()
            .all(|m| m.title.contains("kettle") && m.title.contains("water")),
        "{found:?}"
    );
    let found = again
        .search_training(1, &terms("kettle vinegar"), 10, None)
        .await
        .unwrap();
    assert_eq!(found[0].title, "kettle descaling vinegar", "{found:?}");
}

async fn searches_never_see_another_guild(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    // Identical entries in two guilds, one with an id past i64::MAX (stored negative).
    let big = u64::MAX - 5;
    let one = seed_training(store, 1).await;
    let two = seed_training(store, big).await;
    let docs1 = new_kb(store, 1, "docs").await;
    let docs2 = new_kb(store, big, "docs").await;
    let refund = kb_entry("Refund policy", "Refunds within 30 days.", &[]);
    let e1 = store.add_kb_entry(docs1, &refund, 5, t0()).await.unwrap();
    let e2 = store.add_kb_entry(docs2, &refund, 5, t0()).await.unwrap();

    assert_eq!(
        search_ids(store, 1, "reset password").await,
        [one[0], one[1]]
    );
    assert_eq!(
        search_ids(store, big, "reset password").await,
        [two[0], two[1]]
    );
    assert!(search_ids(store, 3, "reset password").await.is_empty());
    assert!(
        search_ids(store, u64::MAX - 4, "reset password")
            .await
            .is_empty()
    );
    let refunds = terms("refund policy");
    assert_eq!(
        ids(&store
            .search_knowledge(1, None, &refunds, 10, None)
            .await
            .unwrap()),
        [e1.id]
    );
    assert_eq!(
        ids(&store
            .search_knowledge(big, None, &refunds, 10, None)
            .await
            .unwrap()),
        [e2.id]
    );
    // Another guild's knowledge base, named explicitly, still yields nothing.
    assert!(
        store
            .search_knowledge(1, Some(docs2), &refunds, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    // A term that spells a guild's token matches no entry.
    assert!(
        store
            .search_training(1, &["g1".to_string()], 10, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn training_search_follows_updates_and_deletes(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let [question, in_answer, unrelated, _] = seed_training(store, 1).await;
    assert_eq!(search_ids(store, 1, "weekend").await, Vec::<i64>::new());
    // A new answer is searchable, the old one no longer.
    store
        .train(
            &trained(
                1,
                "What are your opening hours?",
                "Also open on the weekend.",
            ),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(search_ids(store, 1, "weekend").await, [unrelated]);
    assert!(search_ids(store, 1, "nine five").await.is_empty());
    // Using an entry (no text change) keeps it findable.
    store.record_training_use(&[question], t0()).await.unwrap();
    assert_eq!(search_ids(store, 1, "reset").await, [question, in_answer]);
    // Deleted entries are gone from the index.
    store.delete_training(1, question).await.unwrap();
    assert_eq!(search_ids(store, 1, "reset password").await, [in_answer]);
    // Importing indexes too.
    store
        .import_training(&[trained(1, "Is there a mobile app?", "Yes.")], t0())
        .await
        .unwrap();
    assert_eq!(search_ids(store, 1, "mobile").await.len(), 1);
}

async fn knowledge_search_names_its_base_and_filters_by_base(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let docs = new_kb(store, 1, "Docs").await;
    let faq = new_kb(store, 1, "FAQ").await;
    let in_title = store
        .add_kb_entry(
            docs,
            &kb_entry(
                "Shipping times",
                "Orders leave the warehouse daily.",
                &["delivery"],
            ),
            5,
            now,
        )
        .await
        .unwrap();
    let in_content = store
        .add_kb_entry(
            faq,
            &kb_entry("Tracking an order", "Shipping updates arrive by mail.", &[]),
            5,
            now,
        )
        .await
        .unwrap();
    store
        .import_kb_entries(
            faq,
            &[kb_entry("Returns", "Send it back.", &["shipping"])],
            5,
            now,
        )
        .await
        .unwrap();

    let found = store
        .search_knowledge(1, None, &terms("shipping"), 10, None)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].id, in_title.id, "the title weighs most: {found:?}");
    assert_eq!(found[0].kind, EntryKind::Knowledge);
    assert_eq!(found[0].title, "Shipping times");
    assert_eq!(found[0].body, "Orders leave the warehouse daily.");
    assert_eq!(found[0].tags, ["delivery"]);
    assert_eq!(found[0].source.as_deref(), Some("Docs"));
    let in_faq = store
        .search_knowledge(1, Some(faq), &terms("shipping"), 10, None)
        .await
        .unwrap();
    assert_eq!(in_faq.len(), 2);
    assert!(in_faq.iter().all(|m| m.source.as_deref() == Some("FAQ")));
    assert!(ids(&in_faq).contains(&in_content.id));
    assert_eq!(
        ids(&store
            .search_knowledge(1, Some(docs), &terms("delivery"), 10, None)
            .await
            .unwrap()),
        [in_title.id]
    );
    assert!(
        store
            .search_knowledge(1, Some(faq), &terms("delivery"), 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .search_knowledge(1, None, &terms("shipping"), 1, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .search_knowledge(1, None, &[], 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Trained answers and knowledge are separate indexes.
    assert!(
        store
            .search_training(1, &terms("shipping"), 10, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn embeddings_are_stored_per_model_and_recomputed_after_a_change(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let now = t0();
    let a = train_new(
        store,
        trained(1, "How do I reset my password?", "Use the link."),
    )
    .await;
    let b = train_new(store, trained(2, "Where are my invoices?", "Billing page.")).await;
    let kb = new_kb(store, 1, "docs").await;
    let k = store
        .add_kb_entry(kb, &kb_entry("Refunds", "Within 30 days.", &[]), 5, now)
        .await
        .unwrap();

    let missing = |model: &'static str| async move {
        store
            .entries_missing_embedding(model, 10)
            .await
            .unwrap()
            .into_iter()
            .collect::<HashSet<_>>()
    };
    let everything = HashSet::from([
        (
            EntryKind::Training,
            a.id,
            "How do I reset my password?".to_string(),
        ),
        (
            EntryKind::Training,
            b.id,
            "Where are my invoices?".to_string(),
        ),
        (
            EntryKind::Knowledge,
            k.id,
            "Refunds\nWithin 30 days.".to_string(),
        ),
    ]);
    assert_eq!(missing("m1").await, everything);
    assert_eq!(
        store
            .entries_missing_embedding("m1", 2)
            .await
            .unwrap()
            .len(),
        2
    );

    let va = vec![0.25f32, -1.5, 3.0e-7, f32::MAX];
    let vk = vec![1.0f32, 2.0, 3.0];
    store
        .set_entry_embedding(EntryKind::Training, a.id, "m1", &va)
        .await
        .unwrap();
    store
        .set_entry_embedding(EntryKind::Training, b.id, "m1", &[0.5])
        .await
        .unwrap();
    store
        .set_entry_embedding(EntryKind::Knowledge, k.id, "m1", &vk)
        .await
        .unwrap();
    assert!(missing("m1").await.is_empty());
    assert_eq!(
        missing("m2").await,
        everything,
        "another model's vectors do not count"
    );

    // Searches return the vector only for the model asked for.
    let found = store
        .search_training(1, &terms("password"), 10, Some("m1"))
        .await
        .unwrap();
    assert_eq!(found[0].embedding.as_deref(), Some(&va[..]));
    let found = store
        .search_training(1, &terms("password"), 10, Some("m2"))
        .await
        .unwrap();
    assert_eq!(found[0].embedding, None);
    assert_eq!(
        store
            .search_training(1, &terms("password"), 10, None)
            .await
            .unwrap()[0]
            .embedding,
        None
    );
    let found = store
        .search_knowledge(1, None, &terms("refunds"), 10, Some("m1"))
        .await
        .unwrap();
    assert_eq!(found[0].embedding.as_deref(), Some(&vk[..]));

    // A new answer leaves the question's vector in place; a respelled question needs a new one.
    store
        .train(
            &trained(1, "How do I reset my password?", "Settings, then Security."),
            now,
        )
        .await
        .unwrap();
    assert!(missing("m1").await.is_empty());
    store
        .train(
            &trained(1, "how do I reset my password", "Settings, then Security."),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        missing("m1").await,
        HashSet::from([(
            EntryKind::Training,
            a.id,
            "how do I reset my password".to_string()
        )])
    );
    assert_eq!(
        store
            .search_training(1, &terms("password"), 10, Some("m1"))
            .await
            .unwrap()[0]
            .embedding,
        None
    );
    // Switching models: vectors are replaced.
    store
        .set_entry_embedding(EntryKind::Training, a.id, "m2", &va)
        .await
        .unwrap();
    let is_a =
        |(kind, id, _): &(EntryKind, i64, String)| (*kind, *id) == (EntryKind::Training, a.id);
    assert!(missing("m1").await.iter().any(is_a));
    assert!(!missing("m2").await.iter().any(is_a));

    // An entry deleted while its vector was computed is skipped; an empty vector is a bug.
    store.delete_training(2, b.id).await.unwrap();
    store
        .set_entry_embedding(EntryKind::Training, b.id, "m1", &[1.0])
        .await
        .unwrap();
    store
        .set_entry_embedding(EntryKind::Knowledge, 999, "m1", &[1.0])
        .await
        .unwrap();
    assert!(matches!(
        store
            .set_entry_embedding(EntryKind::Training, a.id, "m1", &[])
            .await,
        Err(StoreError::InvalidArgument(_))
    ));
}

// ----- Admin interface -----

async fn desk_guilds_are_those_with_any_desk_data(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    assert!(store.desk_guilds().await.unwrap().is_empty());
    store
        .save_guild_settings(&GuildSettings {
            guild_id: 40,
            forum_channel_id: 1,
            staff_role_id: 2,
            log_channel_id: None,
            instructions: None,
            auto_close_after_secs: None,
            ai_replies: true,
            training: true,
            member_replies_per_6h: 0,
            member_reply_interval_secs: 0,
            updated_by: 5,
            updated_at: t0(),
        })
        .await
        .unwrap();
    // Several rows of a guild count once; ids above i64::MAX come last, as Discord orders them.
    open_ticket(store, 30, 7, "billing", t0()).await;
    open_ticket(store, 30, 8, "billing", t0()).await;
    open_ticket(store, u64::MAX - 3, 7, "billing", t0()).await;
    train_new(store, trained(20, "Where is the shop?", "Online.")).await;
    train_new(store, trained(20, "When is it open?", "Always.")).await;
    train_new(store, trained(30, "Where is the shop?", "Online.")).await;
    new_kb(store, 10, "faq").await;
    new_kb(store, 10, "docs").await;
    assert_eq!(
        store.desk_guilds().await.unwrap(),
        [10, 20, 30, 40, u64::MAX - 3]
    );
    // A guild whose data is gone is no longer offered.
    let kbs = store.list_kbs(10).await.unwrap();
    for kb in kbs {
        store.delete_kb(10, kb.id).await.unwrap();
    }
    assert_eq!(
        store.desk_guilds().await.unwrap(),
        [20, 30, 40, u64::MAX - 3]
    );
}

async fn trained_answers_are_edited_in_place(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let a = train_new(
        store,
        NewTrainingEntry {
            category: Some("account".into()),
            tags: vec!["login".into()],
            ..trained(1, "How do I reset my password?", "Use the reset link.")
        },
    )
    .await;
    let b = train_new(store, trained(1, "Where are my invoices?", "Billing page.")).await;
    store.record_training_use(&[a.id], t0()).await.unwrap();
    store
        .set_entry_embedding(EntryKind::Training, a.id, "m1", &[1.0])
        .await
        .unwrap();

    // The answer alone: the embedding (of the question) stays; category and tags are cleared as given.
    let later = t0() + mins(5);
    let edited = store
        .update_training(
            a.id,
            &NewTrainingEntry {
                created_by: 99,
                ..trained(1, "How do I reset my password?", "Ask the helpdesk.")
            },
            later,
        )
        .await
        .unwrap();
    let used = store.training_entry(1, a.id).await.unwrap().unwrap();
    assert_eq!(edited, used);
    assert_eq!(
        (
            edited.answer.as_str(),
            edited.category.as_deref(),
            edited.tags.len()
        ),
        ("Ask the helpdesk.", None, 0)
    );
    assert_eq!(
        (edited.uses, edited.created_by, edited.created_at),
        (1, 5, a.created_at)
    );
    assert_eq!(edited.updated_at, later);
    assert!(edited.last_used_at.is_some());
    assert!(
        store
            .entries_missing_embedding("m1", 10)
            .await
            .unwrap()
            .iter()
            .all(|(_, id, _)| *id != a.id)
    );
    assert_eq!(search_ids(store, 1, "helpdesk").await, [a.id]);
    assert!(search_ids(store, 1, "link").await.is_empty());

    // A new question: searchable under its words only, its key follows, the embedding is recomputed.
    let edited = store
        .update_training(
            a.id,
            &NewTrainingEntry {
                category: Some("security".into()),
                tags: vec!["2fa".into()],
                ..trained(1, "How do I enable two-factor login?", "Ask the helpdesk.")
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(edited.category.as_deref(), Some("security"));
    assert_eq!(search_ids(store, 1, "factor").await, [a.id]);
    assert!(search_ids(store, 1, "password").await.is_empty());
    assert!(
        store
            .entries_missing_embedding("m1", 10)
            .await
            .unwrap()
            .iter()
            .any(|(_, id, _)| *id == a.id)
    );
    // Training the old question again makes a new entry; the edited one answers the new question.
    let again = store
        .train(
            &trained(1, "how do I ENABLE two factor login", "Other."),
            t0(),
        )
        .await
        .unwrap();
    assert!(
        matches!(&again, TrainOutcome::Updated { entry, .. } if entry.id == a.id),
        "{again:?}"
    );
    train_new(store, trained(1, "How do I reset my password?", "Link.")).await;

    // Another entry's question (by key), an entry of another guild, a question without words.
    let taken = store
        .update_training(b.id, &trained(1, "HOW do i reset my password", "x"), later)
        .await;
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists(_))),
        "{taken:?}"
    );
    assert_eq!(
        store.training_entry(1, b.id).await.unwrap().unwrap().answer,
        "Billing page."
    );
    let elsewhere = store
        .update_training(b.id, &trained(2, "Where are my invoices?", "x"), later)
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::NotFound(_))),
        "{elsewhere:?}"
    );
    let wordless = store
        .update_training(b.id, &trained(1, "?!", "x"), later)
        .await;
    assert!(
        matches!(wordless, Err(StoreError::InvalidArgument(_))),
        "{wordless:?}"
    );
}

async fn knowledge_entries_are_edited_and_deleted_one_by_one(kind: DatabaseKind) {
    let Some(db) = fresh(kind).await else {
        return;
    };
    let store = &*db.store;
    let kb = new_kb(store, 1, "docs").await;
    let other_guild = new_kb(store, 2, "docs").await;
    let now = t0();
    let e1 = store
        .add_kb_entry(
            kb,
            &kb_entry("Refunds", "Within 30 days.", &["money"]),
            5,
            now,
        )
        .await
        .unwrap();
    let e2 = store
        .add_kb_entry(kb, &kb_entry("Shipping", "Two to five days.", &[]), 5, now)
        .await
        .unwrap();
    let e3 = store
        .add_kb_entry(other_guild, &kb_entry("Refunds", "Never.", &[]), 5, now)
        .await
        .unwrap();
    assert_eq!(store.kb_entry(1, e1.id).await.unwrap(), Some(e1.clone()));
    assert_eq!(store.kb_entry(2, e1.id).await.unwrap(), None);
    store
        .set_entry_embedding(EntryKind::Knowledge, e1.id, "m1", &[1.0])
        .await
        .unwrap();
    let kb_search = |text: &'static str| async move {
        ids(&store
            .search_knowledge(1, None, &terms(text), 10, None)
            .await
            .unwrap())
    };
    let missing = || async {
        store
            .entries_missing_embedding("m1", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, id, _)| id)
            .collect::<BTreeSet<_>>()
    };

    // Tags only: the embedding (of title and content) stays.
    let later = now + mins(3);
    let edited = store
        .update_kb_entry(
            1,
            e1.id,
            &kb_entry("Refunds", "Within 30 days.", &["returns"]),
            later,
        )
        .await
        .unwrap();
    assert_eq!(edited.tags, ["returns"]);
    assert_eq!(
        (
            edited.kb_id,
            edited.created_by,
            edited.created_at,
            edited.updated_at
        ),
        (kb, 5, e1.created_at, later)
    );
    assert!(!missing().await.contains(&e1.id));
    assert_eq!(kb_search("returns").await, [e1.id]);
    assert!(kb_search("money").await.is_empty());
    // New content: searchable by its words only, the embedding recomputed.
    let edited = store
        .update_kb_entry(
            1,
            e1.id,
            &kb_entry("Refunds", "Within 60 days of delivery.", &["returns"]),
            later,
        )
        .await
        .unwrap();
    assert_eq!(store.kb_entry(1, e1.id).await.unwrap(), Some(edited));
    assert!(missing().await.contains(&e1.id));
    assert_eq!(kb_search("delivery").await, [e1.id]);
    assert!(kb_search("30").await.is_empty());

    // Another guild's entry is neither edited nor deleted through this guild.
    let elsewhere = store
        .update_kb_entry(1, e3.id, &kb_entry("x", "y", &[]), later)
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::NotFound(_))),
        "{elsewhere:?}"
    );
    let empty = store
        .update_kb_entry(1, e1.id, &kb_entry("Refunds", "", &[]), later)
        .await;
    assert!(
        matches!(empty, Err(StoreError::InvalidArgument(_))),
        "{empty:?}"
    );
    assert!(!store.delete_kb_entry(1, e3.id).await.unwrap());
    assert_eq!(
        store.kb_entry(2, e3.id).await.unwrap().unwrap().content,
        "Never."
    );

    // Deleting one entry leaves the others, and the index forgets it.
    assert!(store.delete_kb_entry(1, e1.id).await.unwrap());
    assert!(!store.delete_kb_entry(1, e1.id).await.unwrap());
    assert_eq!(store.kb_entry(1, e1.id).await.unwrap(), None);
    assert!(kb_search("refunds").await.is_empty());
    assert_eq!(kb_search("shipping").await, [e2.id]);
    assert_eq!(store.kb(1, kb).await.unwrap().unwrap().entry_count, 1);
    let (page, total) = store.kb_entries(kb, 0, 10).await.unwrap();
    assert_eq!((page.len(), total), (1, 1));
}
