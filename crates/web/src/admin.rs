//! Admin accounts: password rules and argon2id hashing.
//!
//! Hashing takes tens of milliseconds of CPU on purpose, so it runs on the blocking pool and never stalls the
//! async workers that acknowledge Discord interactions.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use disconcierge_core::model::AdminAccount;
use disconcierge_store::{Store, StoreError};

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_BYTES: usize = 1024;
pub const USERNAME_MAX_CHARS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "the username must be 1 to {USERNAME_MAX_CHARS} characters of letters, digits, '.', '-', '_' or '@'"
    )]
    InvalidUsername,
    #[error("the password must be at least {PASSWORD_MIN_CHARS} characters long")]
    PasswordTooShort,
    #[error("the password must be at most {PASSWORD_MAX_BYTES} bytes long")]
    PasswordTooLong,
    #[error(
        "an admin named {0:?} already exists; choose another name, or change that admin's password"
    )]
    AlreadyExists(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(StoreError),
}

/// OWASP's recommended argon2id parameters (19 MiB, 2 iterations, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn validate_username(username: &str) -> Result<(), AdminError> {
    let len = username.chars().count();
    let ok_chars = username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if len == 0 || len > USERNAME_MAX_CHARS || !ok_chars {
        return Err(AdminError::InvalidUsername);
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), AdminError> {
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(AdminError::PasswordTooLong);
    }
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(AdminError::PasswordTooShort);
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub async fn hash_password(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AdminError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| AdminError::Hash(e.to_string()))?
}

/// Checks a password against a stored hash; any malformed hash simply fails.
pub async fn verify_password(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Validates and creates an admin account.
pub async fn create_admin(
    store: &dyn Store,
    username: &str,
    password: &str,
) -> Result<AdminAccount, AdminError> {
    validate_username(username)?;
    validate_password(password)?;
    let hash = hash_password(password.to_string()).await?;
    match store.create_admin(username, &hash).await {
        Ok(account) => Ok(account),
        Err(StoreError::AlreadyExists(_)) => Err(AdminError::AlreadyExists(username.to_string())),
        Err(e) => Err(AdminError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(hash.clone(), "correct horse battery".into()).await);
        assert!(!verify_password(hash.clone(), "correct horse battery!".into()).await);
        assert!(!verify_password("not a hash".into(), "x".into()).await);
        // Same password, different salt.
        assert_ne!(
            hash,
            hash_password("correct horse battery".into()).await.unwrap()
        );
    }

    #[test]
    fn password_and_username_rules() {
        assert!(matches!(
            validate_password("short"),
            Err(AdminError::PasswordTooShort)
        ));
        assert!(matches!(
            validate_password(&"x".repeat(2000)),
            Err(AdminError::PasswordTooLong)
        ));
        validate_password("long enough pw").unwrap();
        validate_username("admin").unwrap();
        validate_username("jane.doe@example.org").unwrap();
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("<script>").is_err());
    }
}
