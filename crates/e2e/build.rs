//! PostgreSQL tests run only when `DC_TEST_POSTGRES_URL` is set. Without it they are compiled as
//! `#[ignore]`d (with the reason), so every test run reports them as skipped rather than passing silently.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(dc_test_postgres)");
    println!("cargo::rerun-if-env-changed=DC_TEST_POSTGRES_URL");
    if std::env::var_os("DC_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=dc_test_postgres");
    }
}
