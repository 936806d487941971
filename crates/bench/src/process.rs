//! The bot as a child process: started with a given environment, watched through `/proc`, stopped with
//! SIGTERM like a service manager would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Bot {
    child: Child,
    /// Kernel clock ticks per second (`getconf CLK_TCK`), for CPU times in `/proc/<pid>/stat`.
    ticks_per_second: u64,
}

impl Bot {
    /// Starts `bin run` in `dir` with exactly `env` (plus `PATH`), output to `dir/bot.log`.
    pub fn start(bin: &Path, dir: &Path, env: &[(String, String)]) -> Result<Bot, String> {
        let bin = bin
            .canonicalize()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let log = std::fs::File::create(dir.join("bot.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .arg("run")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let ticks_per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100);
        Ok(Bot {
            child,
            ticks_per_second,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU time used so far.
    pub fn cpu(&self) -> Result<Duration, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .map_err(|e| format!("the bot is gone: {e}"))?;
        // Fields after the command name (which is in parentheses and may hold spaces): state is the
        // first; utime and stime are fields 14 and 15 of the whole line, so 12 and 13 after it.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let total = ticks(11) + ticks(12);
        Ok(Duration::from_secs_f64(
            total as f64 / self.ticks_per_second as f64,
        ))
    }

    /// Resident memory now and at its peak, in MB.
    pub fn memory(&self) -> Result<(f64, f64), String> {
        let mb = self.status_mb(&["VmRSS:", "VmHWM:"])?;
        Ok((mb[0], mb[1]))
    }

    /// The resident set in MB split into anonymous memory (the heap, stacks, written pages) and file
    /// pages (the binary's code and data as mapped, shared with the page cache).
    pub fn rss_parts(&self) -> Result<(f64, f64), String> {
        let mb = self.status_mb(&["RssAnon:", "RssFile:"])?;
        Ok((mb[0], mb[1]))
    }

    /// Values of `/proc/<pid>/status` given in kB, in MB.
    fn status_mb<const N: usize>(&self, keys: &[&str; N]) -> Result<[f64; N], String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("the bot is gone: {e}"))?;
        Ok(keys.map(|key| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        }))
    }

    /// Asks the bot to stop (SIGTERM) and waits for it.
    pub fn stop(mut self) -> Result<(), String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the bot exited with {status}"))
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the bot to take).
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Lowers the calling thread's priority to niceness `nice` (Linux: a niceness belongs to a thread, and
/// threads started from it inherit it). Raising it needs no privilege; a failure is reported and ignored.
#[allow(unsafe_code)]
pub fn lower_this_thread(nice: u32) {
    // SAFETY: `gettid` has no preconditions; `setpriority` only reads its arguments.
    let result = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice as libc::c_int)
    };
    if result != 0 {
        eprintln!(
            "could not lower a simulator thread to niceness {nice}: {}",
            std::io::Error::last_os_error()
        );
    }
}
