//! How fast the machine is right now, as one figure printed with the bench's own.
//!
//! The bench runs on a shared virtual machine whose speed drifts by up to a factor of two, between sessions
//! and within minutes (BENCHMARKS.md): the same binary, doing the same work, used 7.8 s of CPU in one session's burst and
//! 16 s in another's. A figure is only comparable with another taken at a similar machine speed, so the
//! chat bench times a fixed piece of the acknowledgement path's own kind of work before and after its
//! runs: Ed25519 verifications and JSON round trips of an interaction-sized body, on one thread at the
//! bench's normal priority. Twice the reference time means every figure of that run is measured on a
//! machine half as fast.

use ed25519_dalek::{Signer, SigningKey, Verifier};
use std::time::{Duration, Instant};

/// Verifications and JSON round trips per repetition (the verification and parsing part of
/// 4,000 acknowledgements).
const ROUNDS: usize = 4_000;

/// The reference workload's time: the fastest of five repetitions (the least disturbed).
pub fn reference_time() -> Duration {
    fastest(ROUNDS, 5)
}

/// The fastest of `repetitions` timings of `rounds` verifications and JSON round trips.
fn fastest(rounds: usize, repetitions: usize) -> Duration {
    let key = SigningKey::from_bytes(&[7; 32]);
    let verifying = key.verifying_key();
    let body = interaction_body();
    let signature = key.sign(body.as_bytes());
    (0..repetitions)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                let ok = verifying
                    .verify(std::hint::black_box(body.as_bytes()), &signature)
                    .is_ok();
                let value: serde_json::Value =
                    serde_json::from_str(std::hint::black_box(&body)).expect("valid JSON");
                let bytes = serde_json::to_vec(&value).expect("serializable");
                std::hint::black_box((ok, bytes));
            }
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// A body shaped like Discord's `/chat` interaction (about 1 KB).
fn interaction_body() -> String {
    serde_json::json!({
        "app_permissions": "2248473465835073",
        "application_id": "1234567890123456789",
        "authorizing_integration_owners": { "0": "1234567890123456789" },
        "channel": { "id": "1234567890123456790", "name": "general", "type": 0, "guild_id": "1234567890123456791" },
        "channel_id": "1234567890123456790",
        "context": 0,
        "data": {
            "id": "1234567890123456792", "name": "chat", "type": 1,
            "options": [{ "name": "prompt", "type": 3, "value": "How do I reset my password? I tried the link in the e-mail." }]
        },
        "entitlements": [],
        "guild_id": "1234567890123456791",
        "guild_locale": "en-US",
        "id": "1234567890123456793",
        "locale": "en-US",
        "member": {
            "avatar": null, "deaf": false, "flags": 0, "joined_at": "2026-01-01T00:00:00.000000+00:00",
            "mute": false, "nick": null, "pending": false, "permissions": "2248473465835073", "roles": [],
            "user": { "avatar": null, "discriminator": "0", "global_name": "Member 42", "id": "1234567890123456794", "public_flags": 0, "username": "member42" }
        },
        "token": "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc5MzpzZWNyZXQtdG9rZW4tb2YtYWJvdXQtb25lLWh1bmRyZWQtYW5kLWZpZnR5LWNoYXJhY3RlcnM",
        "type": 2,
        "version": 1
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_body_is_interaction_sized_and_the_workload_takes_time() {
        let body = interaction_body();
        assert!((800..2_000).contains(&body.len()), "{} bytes", body.len());
        // The body is verified against its own signature (a failed verification would be cheaper work).
        let key = SigningKey::from_bytes(&[7; 32]);
        let signature = key.sign(body.as_bytes());
        assert!(
            key.verifying_key()
                .verify(body.as_bytes(), &signature)
                .is_ok()
        );
        assert!(fastest(2, 2) > Duration::ZERO);
    }
}
