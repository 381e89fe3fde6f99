//! Child processes and scratch directories the bench owns, cleaned up on drop (also
//! when the bench fails or is interrupted with Ctrl-C): Aisle itself and, optionally,
//! the echo server as a separate process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A child process killed (SIGTERM, then SIGKILL after 3 s) when dropped.
pub struct ChildGuard {
    pub name: String,
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` with stdin closed and stdout+stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Self> {
        let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Self { name: name.into(), child })
    }

    /// `Some(status)` once the child has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system temp dir, removed on drop unless `keep`.
pub struct ScratchDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl ScratchDir {
    pub fn new(prefix: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path, keep: false })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A loopback port that was free a moment ago (bind :0, read it, release it).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// The last `n` lines of a log file, for error reports.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Waits until something accepts TCP connections on `addr` (bounded by `wait`).
pub async fn wait_for_port(addr: &str, wait: Duration, child: &mut ChildGuard) -> Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if let Some(st) = child.exited() {
            bail!("{} exited before listening: {st}", child.name);
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{} did not listen on {addr} within {wait:?}", child.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_is_killed_on_drop_and_scratch_removed() {
        let dir = ScratchDir::new("loadtests-test").unwrap();
        let log = dir.path.join("log");
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let started = Instant::now();
        let g = ChildGuard::spawn("sleep", cmd, &log).unwrap();
        let pid = g.pid();
        drop(g);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!Path::new(&format!("/proc/{pid}")).exists() || {
            // a zombie-free exit: the status file is gone or says it is not running
            std::fs::read_to_string(format!("/proc/{pid}/status")).map_or(true, |s| !s.contains("sleep"))
        });
        let p = dir.path.clone();
        drop(dir);
        assert!(!p.exists());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = ScratchDir::new("loadtests-tail").unwrap();
        let f = dir.path.join("x");
        std::fs::write(&f, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&f, 2), "b\nc");
        assert_eq!(tail(&dir.path.join("missing"), 2), "");
    }
}
