//! An admin's API session against the real application, for end-to-end tests of the admin interface.

use crate::TestApp;
use serde_json::{Value, json};

/// An API session: the cookie and the CSRF token.
pub struct Admin {
    pub client: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Admin {
    /// Creates the account `admin` and signs in through `POST /api/login`.
    pub async fn sign_in(app: &TestApp) -> Admin {
        disconcierge_app::admin::create_admin(app.store.as_ref(), "admin", "correct horse battery")
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let login = client
            .post(format!("{}/api/login", app.api_url))
            .json(&json!({"username": "admin", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = login.json::<Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string();
        Admin {
            client,
            base: app.api_url.clone(),
            cookie,
            csrf,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        let reply = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        reply.json().await.unwrap()
    }

    /// Asks the playground; the events as they were streamed.
    pub async fn ask(&self, body: Value) -> Vec<Value> {
        let reply = self.post("/api/playground", body).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["content-type"], "application/x-ndjson");
        reply
            .text()
            .await
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
