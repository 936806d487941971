//! Records the git revision for `disconcierge version`: `DC_GIT_REVISION` when the build sets it (a
//! container build has no `.git`), else what git says.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DC_GIT_REVISION");
    if let Some(revision) = std::env::var("DC_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
    {
        println!("cargo:rustc-env=DC_GIT_REVISION={}", revision.trim());
        return;
    }
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())
        .map(|_| "-dirty")
        .unwrap_or("");
    println!("cargo:rustc-env=DC_GIT_REVISION={revision}{dirty}");
    // Rebuild when HEAD moves (a commit or a checkout).
    for path in ["../../.git/HEAD", "../../.git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
