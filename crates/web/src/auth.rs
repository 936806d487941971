//! Logging in and out, sessions, CSRF tokens and the login throttle.
//!
//! A session token is 32 random bytes (hex) given to the browser in the `dc_session` cookie; the database
//! keeps only its SHA-256, so a copy of the database does not hand out logins. The CSRF token of a session
//! is derived from the session token: only the holder of the cookie can compute it, it needs no storage,
//! and it changes with every login. With `DC_API_SECRET` it is the HMAC-SHA256 of the session token under
//! that secret, so that even the holder of the cookie cannot compute it without the server (every
//! instance must then have the same secret); without, the SHA-256 of a fixed prefix and the token.

use crate::WebState;
use crate::admin;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use disconcierge_core::model::AdminAccount;
use disconcierge_core::secret::{ExposeSecret, SecretString};
use disconcierge_store::{Store, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;

pub const SESSION_COOKIE: &str = "dc_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A new random session token (64 hex characters).
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database stores for a session token.
pub fn session_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of the session whose token is `token`, keyed with `DC_API_SECRET` when set.
pub fn csrf_token(key: Option<&SecretString>, token: &str) -> String {
    match key {
        Some(key) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(b"disconcierge csrf v2\0");
            mac.update(token.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        None => {
            let mut hasher = Sha256::new();
            hasher.update(b"disconcierge csrf v1\0");
            hasher.update(token.as_bytes());
            hex::encode(hasher.finalize())
        }
    }
}

impl WebState {
    /// The CSRF token of the session whose token is `token`, with this server's key.
    pub fn csrf_token(&self, token: &str) -> String {
        csrf_token(self.settings().csrf_key.as_ref(), token)
    }
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The session token from the request's cookies, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value that logs a browser in with `token`.
pub fn login_cookie(state: &WebState, token: &str) -> String {
    let s = state.settings();
    format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite={}{}",
        s.session_ttl.as_secs(),
        if s.development { "Lax" } else { "Strict" },
        if s.tls { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn logout_cookie(state: &WebState) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite={}{}",
        if state.settings().development {
            "Lax"
        } else {
            "Strict"
        },
        if state.settings().tls { "; Secure" } else { "" }
    )
}

/// A logged-in admin, found from the session cookie (or, on the API, from a bearer token).
#[derive(Clone)]
pub struct Session {
    pub admin: AdminAccount,
    /// The session token's hash (empty for a bearer token).
    pub token_hash: String,
    /// The API token the request was authenticated with, if it was not a browser session.
    pub api_token: Option<i64>,
    /// The token forms and cookie-authenticated API calls must send back.
    pub csrf: String,
}

impl Session {
    /// Whether `sent` is this session's CSRF token.
    pub fn csrf_ok(&self, sent: Option<&str>) -> bool {
        sent.is_some_and(|s| constant_time_eq(s, &self.csrf))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("not signed in, or the session expired; sign in again")]
    Unauthenticated,
    #[error("missing or wrong CSRF token; reload the page and try again")]
    Csrf,
    #[error(
        "the API token is unknown, expired or revoked; create a new one in the admin interface \
         (API tokens)"
    )]
    BadToken,
    #[error("this needs a signed-in admin session, not an API token")]
    SessionRequired,
    #[error("could not check the session: {0}")]
    Store(#[from] StoreError),
}

/// Looks up the session of a request.
pub async fn session(state: &WebState, headers: &HeaderMap) -> Result<Session, AuthError> {
    let token = session_cookie(headers).ok_or(AuthError::Unauthenticated)?;
    let token_hash = session_token_hash(token);
    let stored = state
        .store()
        .admin_session(&token_hash)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    let admin = state
        .store()
        .admin(stored.admin_id)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    Ok(Session {
        admin,
        token_hash,
        api_token: None,
        csrf: state.csrf_token(token),
    })
}

// ----- API tokens -----

/// Every API token starts with this, so that one pasted in the wrong place is easy to recognise (and
/// secret scanners can find it).
pub const API_TOKEN_PREFIX: &str = "dct_";
/// How often a token's "last used" time is written (not on every request).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A new random API token: the prefix and 40 hex characters (160 random bits).
pub fn new_api_token() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    format!("{API_TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The admin a bearer token acts for; `Unauthenticated` with a message when it is unknown, expired or
/// revoked.
async fn token_session(state: &WebState, token: &str) -> Result<Session, AuthError> {
    let token = token.trim();
    let stored = state
        .store()
        .api_token(&session_token_hash(token))
        .await?
        .ok_or(AuthError::BadToken)?;
    let admin = state
        .store()
        .admin(stored.admin_id)
        .await?
        .ok_or(AuthError::BadToken)?;
    let now = Utc::now();
    if stored.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
        state.store().touch_api_token(stored.id, now).await?;
    }
    Ok(Session {
        admin,
        token_hash: String::new(),
        api_token: Some(stored.id),
        csrf: String::new(),
    })
}

/// The bearer token of a request, if it sent `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// A page handler's admin: unauthenticated visitors are sent to the login page, which brings them back.
pub struct PageAdmin(pub Session);

impl FromRequestParts<WebState> for PageAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        match session(state, &parts.headers).await {
            Ok(s) => Ok(PageAdmin(s)),
            Err(AuthError::Store(e)) => {
                tracing::error!(error = %e, "could not check an admin session");
                Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database did not answer; try again in a moment.",
                )
                    .into_response())
            }
            Err(_) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/disconcierge");
                let target = format!("/disconcierge/login?next={}", url_encode(next));
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

/// An API handler's admin: from `Authorization: Bearer <API token>`, or from the session cookie, in which
/// case requests that change something must carry the session's CSRF token in `X-CSRF-Token` (a bearer
/// token is never sent by a browser on its own, so it needs none).
pub struct ApiAdmin(pub Session);

impl Session {
    /// Refuses requests made with an API token: signing out, changing a password and managing tokens
    /// belong to people, not scripts (a leaked token must not be able to mint more).
    /// Who did it, for histories: the admin, and the token when a script did it.
    pub fn actor(&self) -> String {
        match self.api_token {
            Some(id) => format!("{} (API token #{id})", self.admin.username),
            None => self.admin.username.clone(),
        }
    }

    pub fn require_browser(&self) -> Result<(), AuthError> {
        match self.api_token {
            Some(_) => Err(AuthError::SessionRequired),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<WebState> for ApiAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(&parts.headers) {
            return Ok(ApiAdmin(token_session(state, token).await?));
        }
        let session = session(state, &parts.headers).await?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !session.csrf_ok(sent) {
                return Err(AuthError::Csrf.into());
            }
        }
        Ok(ApiAdmin(session))
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string())
            }
            AuthError::Csrf => ApiError::new(StatusCode::FORBIDDEN, "csrf", e.to_string()),
            AuthError::BadToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "bad_token", e.to_string())
            }
            AuthError::SessionRequired => {
                ApiError::new(StatusCode::FORBIDDEN, "session_required", e.to_string())
            }
            AuthError::Store(s) => s.into(),
        }
    }
}

/// The client's address, when the listener recorded it (for the login throttle). Behind a trusted
/// reverse proxy (`DC_API_TRUSTED_PROXIES`), the address it names in `X-Forwarded-For`.
pub(crate) struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequestParts<WebState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(ClientIp(peer.map(|peer| {
            client_address(peer, forwarded, &state.settings().trusted_proxies)
        })))
    }
}

/// The client's address: the connection's, unless it comes from a trusted proxy; then, walking
/// `X-Forwarded-For` from its end (each proxy appends the address it was called from), the first
/// address that is not a trusted proxy. What a client writes there itself comes first in the list and
/// is never reached while a trusted proxy's entry follows it, so it cannot pick its address.
pub(crate) fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Unreadable: nothing before it can be believed.
            Err(_) => break,
        }
    }
    client
}

/// Percent-encodes a string for use as one query parameter value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where to go after logging in: only local paths under the admin interface (never another site).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/disconcierge") && !n.contains("//") && !n.contains('\\') => n,
        _ => "/disconcierge",
    }
}

// ----- Logging in -----

/// Failed logins allowed per key (client address, account) within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// How long failures are remembered, and how long a locked key stays locked.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Counts failed logins per client address and per account, in the database: every instance sees every
/// failure, so an attacker gets [`MAX_FAILURES`] tries per key and window in all, however a load balancer
/// spreads them.
///
/// Written by hand rather than with governor: what is needed is a lockout after N *failures* with a
/// precise "try again in" for the message, not a rate of requests.
pub struct LoginThrottle<'a> {
    pub(crate) store: &'a dyn Store,
}

impl LoginThrottle<'_> {
    /// [`LoginError::Locked`] if any key is locked: no password is checked then.
    pub async fn check(&self, keys: &[String]) -> Result<(), LoginError> {
        let now = Utc::now();
        let until = self
            .store
            .login_locked_until(keys, MAX_FAILURES, FAILURE_WINDOW, now)
            .await?;
        match until.and_then(|u| (u - now).to_std().ok()) {
            Some(wait) => Err(LoginError::Locked(wait)),
            None => Ok(()),
        }
    }

    /// Counts a failure for each key. A failure to count is logged: the attempt was refused anyway.
    pub async fn record_failure(&self, keys: &[String]) {
        if let Err(e) = self
            .store
            .record_login_failure(keys, FAILURE_WINDOW, Utc::now())
            .await
        {
            tracing::warn!(error = %e, "could not count a failed sign-in");
        }
    }

    /// Forgets the keys' failures after a successful sign-in.
    pub async fn record_success(&self, keys: &[String]) {
        if let Err(e) = self.store.clear_login_failures(keys).await {
            tracing::warn!(error = %e, "could not clear the failed sign-ins of a successful one");
        }
    }
}

/// The throttle keys of a login attempt.
pub fn throttle_keys(ip: Option<IpAddr>, username: &str) -> Vec<String> {
    let mut keys = vec![format!("user:{}", username.trim().to_lowercase())];
    if let Some(ip) = ip {
        keys.push(format!("ip:{ip}"));
    }
    keys
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong username or password")]
    Invalid,
    #[error("too many failed sign-ins; try again in {} minute(s)", minutes(*.0))]
    Locked(Duration),
    #[error("could not sign in: {0}")]
    Store(#[from] StoreError),
}

fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// A PHC string that verifies nothing, checked when the username does not exist so that a login takes as
/// long for a missing account as for a wrong password (no username probing by timing).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Checks the credentials and opens a session. Returns the session token (for the cookie) and the admin.
pub async fn login(
    state: &WebState,
    ip: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<(String, AdminAccount), LoginError> {
    let keys = throttle_keys(ip, username);
    state.throttle().check(&keys).await?;
    let account = state.store().admin_by_username(username.trim()).await?;
    let hash = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = admin::verify_password(hash, password.to_string()).await;
    let Some(account) = account.filter(|_| ok) else {
        state.throttle().record_failure(&keys).await;
        tracing::warn!(username = %username.trim(), ip = ?ip, "failed admin sign-in");
        return Err(LoginError::Invalid);
    };
    state.throttle().record_success(&keys).await;
    let token = open_session(state, account.id).await?;
    // Housekeeping: a login is a fine moment to drop expired sessions.
    if let Err(e) = state.store().delete_expired_sessions().await {
        tracing::warn!(error = %e, "could not remove expired admin sessions");
    }
    tracing::info!(admin = %account.username, ip = ?ip, "admin signed in");
    Ok((token, account))
}

/// Records a new session of `admin_id` lasting `session_ttl`; returns its token (for the cookie).
pub async fn open_session(state: &WebState, admin_id: i64) -> Result<String, StoreError> {
    let token = new_session_token();
    let ttl = chrono::TimeDelta::from_std(state.settings().session_ttl)
        .unwrap_or(chrono::TimeDelta::hours(12));
    state
        .store()
        .create_admin_session(admin_id, &session_token_hash(&token), Utc::now() + ttl)
        .await?;
    Ok(token)
}

/// Ends a session.
pub async fn logout(state: &WebState, session: &Session) -> Result<(), StoreError> {
    state
        .store()
        .delete_admin_session(&session.token_hash)
        .await?;
    tracing::info!(admin = %session.admin.username, "admin signed out");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hashes_and_csrf() {
        let a = new_session_token();
        let b = new_session_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(session_token_hash(&a).len(), 64);
        assert_ne!(session_token_hash(&a), a);
        assert_ne!(csrf_token(None, &a), csrf_token(None, &b));
        assert_ne!(csrf_token(None, &a), session_token_hash(&a));
        assert!(constant_time_eq(
            &csrf_token(None, &a),
            &csrf_token(None, &a)
        ));
        assert!(!constant_time_eq(
            &csrf_token(None, &a),
            &csrf_token(None, &b)
        ));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn a_csrf_key_changes_every_token_and_is_needed_to_compute_it() {
        let token = new_session_token();
        let key = SecretString::from("one instance's secret".to_string());
        let other = SecretString::from("another secret".to_string());
        let keyed = csrf_token(Some(&key), &token);
        assert_eq!(keyed.len(), 64);
        assert_eq!(
            keyed,
            csrf_token(Some(&key), &token),
            "the same for every instance"
        );
        assert_ne!(keyed, csrf_token(None, &token));
        assert_ne!(keyed, csrf_token(Some(&other), &token));
        assert_ne!(keyed, csrf_token(Some(&key), &new_session_token()));
        // HMAC-SHA256 as RFC 4231 defines it (its test case 2: key "Jefe").
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn reads_only_a_well_formed_session_cookie() {
        let token = new_session_token();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("other=1; {SESSION_COOKIE}={token}; x=y")
                .parse()
                .unwrap(),
        );
        assert_eq!(session_cookie(&headers), Some(token.as_str()));
        headers.insert(
            header::COOKIE,
            format!("{SESSION_COOKIE}=../../etc").parse().unwrap(),
        );
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn next_stays_inside_the_admin_interface() {
        assert_eq!(
            safe_next(Some("/disconcierge/chat_commands?state=failed")),
            "/disconcierge/chat_commands?state=failed"
        );
        assert_eq!(safe_next(Some("https://evil.example")), "/disconcierge");
        assert_eq!(safe_next(Some("//evil.example")), "/disconcierge");
        assert_eq!(safe_next(Some("/disconcierge//evil")), "/disconcierge");
        assert_eq!(safe_next(None), "/disconcierge");
        assert_eq!(url_encode("/a b?c=d&e"), "%2Fa%20b%3Fc%3Dd%26e");
    }

    /// A missing account costs a real argon2 verification (a malformed hash would fail at once).
    #[tokio::test]
    async fn the_dummy_hash_is_verified_like_a_real_one() {
        let parsed = argon2::password_hash::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.hash.unwrap().len(), 32);
        assert!(!admin::verify_password(DUMMY_HASH.into(), "password".into()).await);
    }

    /// The window itself (unlocking when it ends, several instances) is the store's test
    /// (`store/tests/throttle.rs`); here, what a sign-in sees.
    #[tokio::test]
    async fn locks_after_repeated_failures_and_a_success_clears_the_count() {
        let db = disconcierge_store::testing::TestDb::sqlite().await;
        let t = LoginThrottle {
            store: db.store.as_ref(),
        };
        let keys = throttle_keys(Some("10.0.0.1".parse().unwrap()), "Admin");
        for _ in 0..MAX_FAILURES - 1 {
            t.record_failure(&keys).await;
        }
        assert!(t.check(&keys).await.is_ok());
        t.record_failure(&keys).await;
        let Err(LoginError::Locked(wait)) = t.check(&keys).await else {
            panic!("locked after {MAX_FAILURES} failures");
        };
        assert!(wait <= FAILURE_WINDOW && wait > FAILURE_WINDOW - Duration::from_secs(60));
        // Another address trying the same account is locked out too; another account from elsewhere is not.
        let same_account = throttle_keys(Some("10.0.0.2".parse().unwrap()), "admin");
        assert!(t.check(&same_account).await.is_err());
        let other = throttle_keys(Some("10.0.0.2".parse().unwrap()), "other");
        assert!(t.check(&other).await.is_ok());
        assert_eq!(
            LoginError::Locked(Duration::from_secs(5 * 60 - 1)).to_string(),
            "too many failed sign-ins; try again in 5 minute(s)"
        );
        // A success clears the count.
        t.record_success(&keys).await;
        for _ in 0..MAX_FAILURES - 1 {
            t.record_failure(&keys).await;
        }
        assert!(t.check(&keys).await.is_ok());
    }

    #[test]
    fn the_client_is_named_by_trusted_proxies_only() {
        let trusted: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A client connecting directly: its header is ignored.
        assert_eq!(
            client_address(ip("203.0.113.7"), ["198.51.100.1"].into_iter(), &trusted),
            ip("203.0.113.7")
        );
        // Through the load balancer: the address it appended.
        assert_eq!(
            client_address(ip("10.1.2.3"), ["203.0.113.7"].into_iter(), &trusted),
            ip("203.0.113.7")
        );
        // A forged entry before it changes nothing; two trusted hops are walked past.
        assert_eq!(
            client_address(
                ip("10.1.2.3"),
                ["198.51.100.1, 203.0.113.7", "10.9.9.9"].into_iter(),
                &trusted
            ),
            ip("203.0.113.7")
        );
        // Nothing forwarded, or garbage: the proxy's own address (all such clients share its count).
        assert_eq!(
            client_address(ip("::1"), std::iter::empty(), &trusted),
            ip("::1")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), ["not an address"].into_iter(), &trusted),
            ip("10.1.2.3")
        );
        // No proxy trusted: the connection's address, always.
        assert_eq!(
            client_address(ip("10.1.2.3"), ["203.0.113.7"].into_iter(), &[]),
            ip("10.1.2.3")
        );
    }
}
