//! A headless Chromium for the admin interface's browser tests, driven over W3C WebDriver.
//!
//! The client is a few JSON calls written on reqwest (already a dependency) rather than a WebDriver
//! crate: the tests need eight endpoints, and the crates bring their own HTTP stacks and TLS features to
//! compile. [`Browser::start`] returns `None`, and the test says it was skipped, when `chromedriver` or
//! Chromium is not installed (`.ci/run` installs Debian's `chromium` and `chromium-driver`).

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The W3C key under which an element reference is returned.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

fn find_program(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless browser session.
    pub async fn start() -> Option<Browser> {
        let Some(driver_bin) = find_program(&["chromedriver"]) else {
            eprintln!(
                "SKIPPED (browser): chromedriver is not installed (apt-get install chromium-driver)"
            );
            return None;
        };
        let Some(chromium) = find_program(&["chromium", "chromium-browser", "google-chrome"])
        else {
            eprintln!("SKIPPED (browser): Chromium is not installed (apt-get install chromium)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            http,
            session: String::new(),
        };
        // Wait for the driver to listen.
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = browser.http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not start listening within 5 s");
        let profile =
            std::env::temp_dir().join(format!("dc-chromium-{}-{port}", std::process::id()));
        let created = browser
            .http
            .post(format!("{base}/session"))
            .json(&json!({
                "capabilities": {"alwaysMatch": {
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--no-first-run", "--window-size=1280,900",
                            format!("--user-data-dir={}", profile.display()),
                        ]
                    }
                }}
            }))
            .send()
            .await
            .expect("chromedriver answers")
            .json::<Value>()
            .await
            .expect("a JSON answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_string();
        browser.session = format!("{base}/session/{session}");
        Some(browser)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("a JSON answer");
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        let v = self.post("/url", json!({ "url": url })).await;
        assert!(v.is_null(), "could not open {url}: {v}");
    }

    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (up to 10 s) until the address contains `part`: clicks that submit a form return before the
    /// next page has loaded.
    pub async fn wait_url(&self, part: &str) -> String {
        for _ in 0..200 {
            let url = self.url().await;
            if url.contains(part) && self.get("/source").await.is_string() {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the browser did not reach {part:?}; it is at {}",
            self.url().await
        );
    }

    /// Waits (up to 10 s) until an element matching `css` exists.
    pub async fn wait_for(&self, css: &str) {
        for _ in 0..200 {
            if self.exists(css).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no element {css:?} appeared on {}", self.url().await);
    }

    /// Waits (up to 10 s) until the text of the element matching `css` satisfies `pred`; returns it.
    pub async fn wait_text(&self, css: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..400 {
            if self.exists(css).await {
                last = self.text(css).await;
                if pred(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{css:?} never showed the expected text; last seen: {last:?}");
    }

    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element matching a CSS selector; panics with the page's address if there is none.
    pub async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        match v[ELEMENT].as_str() {
            Some(id) => id.to_string(),
            None => panic!("no element {css:?} on {}: {v}", self.url().await),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        v.as_array().is_some_and(|a| !a.is_empty())
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        let v = self
            .post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
        assert!(v.is_null(), "could not type into {css:?}: {v}");
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        let v = self.post(&format!("/element/{id}/click"), json!({})).await;
        assert!(v.is_null(), "could not click {css:?}: {v}");
    }

    /// The rendered text of an element (what a person sees).
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn is_selected(&self, css: &str) -> bool {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/selected"))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// The text of an open JavaScript dialog (`alert`), if one is open.
    pub async fn alert(&self) -> Option<String> {
        let v = self.get("/alert/text").await;
        v.as_str().map(str::to_string)
    }

    pub async fn quit(mut self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
