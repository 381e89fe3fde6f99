//! `bench`: the whole comparison in one process. Starts the echo baseline and Aisle
//! (`aisle serve` with the demo shop, as a child process on a free loopback port),
//! runs the ping scenario against both with the same settings and the cart scenario
//! against both (echo in its fake-shop mode), then prints a markdown table and writes
//! `RESULTS.md` and `results.csv`. Children and scratch data are removed at the end,
//! on error and on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::cart::{self, CartOptions};
use crate::echo::{self, EchoOptions, EchoServer};
use crate::ping::{self, PingOptions};
use crate::procs::{self, ChildGuard, ScratchDir};
use crate::report::{self, RunInfo};
use crate::stats::Outcome;

/// Where the echo baseline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EchoMode {
    /// In this process, on its own tokio runtime (own worker threads).
    OwnRuntime,
    /// In this process, on the load generator's runtime.
    SameRuntime,
    /// As a separate process (`loadtests echo-server`), like Aisle.
    Subprocess,
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub clients: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub cart_rate: f64,
    pub cart_duration: Duration,
    pub cart_clients: usize,
    pub aisle_bin: PathBuf,
    /// Measure an Aisle that is already running (base URL) instead of starting one.
    pub aisle_url: Option<String>,
    pub skip_aisle: bool,
    pub echo_mode: EchoMode,
    pub echo_threads: usize,
    pub health_timeout: Duration,
    pub out_dir: PathBuf,
    pub write: bool,
    pub keep_data: bool,
    /// Wait up to this long for other processes to leave the CPUs mostly idle.
    pub quiet_wait: Duration,
    /// Each scenario's duration is split into this many echo/aisle alternations.
    pub rounds: u32,
    /// Start `loadtests echo-server` in Aisle's place (a dry run of the whole bench).
    pub fake_aisle: bool,
}

/// Below this share of busy cores (other processes) the machine counts as quiet.
const QUIET_BELOW_PCT: f64 = 25.0;

/// Samples CPU use in 2 s windows until it is below [`QUIET_BELOW_PCT`] or `wait`
/// has passed; returns the last sample (recorded with the results either way).
pub(crate) async fn wait_quiet(wait: Duration) -> f64 {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let busy = report::cpu_busy_pct(Duration::from_secs(2)).await;
        if busy < QUIET_BELOW_PCT || tokio::time::Instant::now() >= deadline {
            if busy >= QUIET_BELOW_PCT {
                eprintln!("warning: other processes keep {busy:.0}% of the CPUs busy; results will be noisy");
            }
            return busy;
        }
        eprintln!("other processes keep {busy:.0}% of the CPUs busy; waiting for a quieter moment…");
    }
}

/// The echo baseline, however it runs; stops on drop.
enum Echo {
    InProcess { server: EchoServer, runtime: Option<tokio::runtime::Runtime> },
    Subprocess { url: String, _child: ChildGuard, _dir: ScratchDir },
}

impl Echo {
    fn url(&self) -> String {
        match self {
            Echo::InProcess { server, .. } => server.url(),
            Echo::Subprocess { url, .. } => url.clone(),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Echo::InProcess { server, runtime } = self {
            server.stop();
            if let Some(rt) = runtime.take() {
                rt.shutdown_background();
            }
        }
    }
}

const ECHO_LIFETIME: Duration = Duration::from_secs(3600);

async fn start_echo(mode: EchoMode, threads: usize) -> Result<Echo> {
    let opts = EchoOptions { fake_shop: true };
    match mode {
        EchoMode::SameRuntime => {
            let server = echo::start("127.0.0.1:0", opts, ECHO_LIFETIME).await?;
            Ok(Echo::InProcess { server, runtime: None })
        }
        EchoMode::OwnRuntime => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .thread_name("echo")
                .enable_all()
                .build()?;
            let server = rt
                .spawn(echo::start("127.0.0.1:0", opts, ECHO_LIFETIME))
                .await
                .map_err(|e| anyhow!("echo start panicked: {e}"))??;
            Ok(Echo::InProcess { server, runtime: Some(rt) })
        }
        EchoMode::Subprocess => {
            let dir = ScratchDir::new("loadtests-echo")?;
            let addr = format!("127.0.0.1:{}", procs::free_port()?);
            let mut cmd = Command::new(std::env::current_exe()?);
            cmd.args(["echo-server", "--fake-shop", "--bind", &addr, "--max-seconds", "3600"]);
            let mut child = ChildGuard::spawn("echo-server", cmd, &dir.path.join("echo.log"))?;
            procs::wait_for_port(&addr, Duration::from_secs(10), &mut child).await?;
            Ok(Echo::Subprocess { url: format!("ws://{addr}/v1/ws"), _child: child, _dir: dir })
        }
    }
}

/// A running Aisle: the child (if we started it) and what the clients need.
pub(crate) struct Aisle {
    pub base: String,
    pub deployment_key: String,
    pub log: Option<PathBuf>,
    _child: Option<ChildGuard>,
    _dir: Option<ScratchDir>,
}

impl Aisle {
    pub fn ws_url(&self) -> String {
        format!("{}/v1/ws", self.base.replacen("http://", "ws://", 1))
    }
    pub fn log_tail(&self) -> String {
        self.log.as_deref().map(|l| procs::tail(l, 40)).unwrap_or_default()
    }
    /// The process id of the Aisle we started (`None` for one given by `--aisle-url`).
    pub fn pid(&self) -> Option<u32> {
        self._child.as_ref().map(ChildGuard::pid)
    }
}

/// How to start (or where to find) the Aisle under test.
pub(crate) struct AisleLaunch<'a> {
    pub bin: &'a Path,
    /// An Aisle already running at this loopback base URL: nothing is started.
    pub url: Option<&'a str>,
    /// Start `loadtests echo-server` in Aisle's place (a dry run).
    pub fake: bool,
    pub keep_data: bool,
    pub health_timeout: Duration,
    /// Set on Aisle's command line after the bench's own settings (they win over them).
    pub env: Vec<(&'static str, String)>,
}

#[derive(Deserialize)]
struct Demo {
    tenant_id: String,
    deployment_key: String,
}

pub(crate) fn http_client() -> Result<reqwest::Client> {
    // no_proxy: the bench only talks to loopback and must not go through a proxy.
    Ok(reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build()?)
}

/// Starts Aisle with the demo shop on a free loopback port (see the README) and waits
/// for `/healthz` and the demo deployment key.
pub(crate) async fn start_aisle(o: &AisleLaunch<'_>) -> Result<Aisle> {
    let http = http_client()?;
    let (base, child, dir, log) = match o.url {
        Some(url) => {
            crate::wsclient::check_loopback(url)?;
            (url.trim_end_matches('/').to_owned(), None, None, None)
        }
        None => {
            if !o.fake && !o.bin.is_file() {
                bail!(
                    "no aisle binary at {} (build it: cargo build --release -p ws-gateway, or pass --aisle-bin)",
                    o.bin.display()
                );
            }
            let mut dir = ScratchDir::new("aisle-bench")?;
            dir.keep = o.keep_data;
            let addr = format!("127.0.0.1:{}", procs::free_port()?);
            let log = dir.path.join("aisle.log");
            let mut cmd = if o.fake {
                // Dry run: the echo server (fake shop, HTTP stubs) stands in for Aisle.
                let mut c = Command::new(std::env::current_exe()?);
                c.args(["echo-server", "--fake-shop", "--max-seconds", "3600", "--bind", &addr]);
                c
            } else {
                let mut c = Command::new(o.bin);
                c.arg("serve");
                c
            };
            cmd.env("AISLE_DEMO", "1")
                .env("AISLE_BIND", &addr)
                .env("AISLE_DATA_DIR", dir.path.join("data"))
                // The bench is one client address opening 50 sockets at once, and 50
                // conversations at 40 cart commands/s each: far past the limits a shop
                // gets by default. Raised (not off) so the limiters stay in the path.
                .env("AISLE_RATE_WS_CONNECTS", "1000000")
                .env("AISLE_RATE_NEW_CONVERSATIONS", "1000000")
                .env("AISLE_RATE_CART_COMMANDS", "1000000")
                .env("AISLE_RATE_MESSAGES", "1000000")
                // Loopback only: the offline assistant answers, never a remote model
                // (unless the caller points Aisle at a fake Groq, below).
                .env_remove("GROQ_API_KEY")
                .env_remove("AISLE_GROQ_BASE_URL");
            for (k, v) in &o.env {
                cmd.env(k, v);
            }
            let child = ChildGuard::spawn("aisle", cmd, &log)?;
            eprintln!("started aisle (pid {}) on {addr}, log {}", child.pid(), log.display());
            (format!("http://{addr}"), Some(child), Some(dir), Some(log))
        }
    };
    let mut aisle = Aisle { base, deployment_key: String::new(), log, _child: child, _dir: dir };
    let health = format!("{}/healthz", aisle.base);
    let deadline = tokio::time::Instant::now() + o.health_timeout;
    loop {
        if let Some(st) = aisle._child.as_mut().and_then(ChildGuard::exited) {
            bail!("aisle exited during start-up ({st}); log tail:\n{}", aisle.log_tail());
        }
        if let Ok(r) = http.get(&health).send().await
            && r.status() == reqwest::StatusCode::OK
        {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "GET {health} did not answer 200 within {:?}; log tail:\n{}",
                o.health_timeout,
                aisle.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let demo_url = format!("{}/v1/demo", aisle.base);
    let resp = http.get(&demo_url).send().await.with_context(|| format!("GET {demo_url}"))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        bail!("GET {demo_url}: {status} {body}; log tail:\n{}", aisle.log_tail());
    }
    let demo: Demo = resp.json().await.with_context(|| format!("GET {demo_url}: unexpected body"))?;
    eprintln!("aisle demo tenant {} ready at {}", demo.tenant_id, aisle.base);
    aisle.deployment_key = demo.deployment_key;
    Ok(aisle)
}

/// Runs the bench; returns an error (after reporting what was measured) if any step failed.
pub async fn run(o: &BenchOptions) -> Result<()> {
    tokio::select! {
        r = run_inner(o) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; children stopped"),
    }
}

async fn run_inner(o: &BenchOptions) -> Result<()> {
    let echo = start_echo(o.echo_mode, o.echo_threads).await.context("starting the echo baseline")?;
    eprintln!("echo baseline ({:?}) at {}", o.echo_mode, echo.url());
    let launch = AisleLaunch {
        bin: &o.aisle_bin,
        url: o.aisle_url.as_deref(),
        fake: o.fake_aisle,
        keep_data: o.keep_data,
        health_timeout: o.health_timeout,
        env: Vec::new(),
    };
    let aisle = if o.skip_aisle { None } else { Some(start_aisle(&launch).await?) };
    let background = wait_quiet(o.quiet_wait).await;

    let rounds = o.rounds.max(1);
    let (ping_seg, cart_seg) = (o.duration / rounds, o.cart_duration / rounds);
    let ping_opts = |url: String, key: &str, origin: Option<String>, target: &str| PingOptions {
        url,
        origin,
        deployment_key: key.into(),
        clients: o.clients,
        duration: ping_seg,
        warmup: o.warmup,
        target: target.into(),
    };
    let cart_opts = |url: String, key: &str, origin: Option<String>, target: &str| CartOptions {
        url,
        origin,
        deployment_key: key.into(),
        clients: o.cart_clients,
        rate: o.cart_rate,
        duration: cart_seg,
        warmup: o.warmup,
        target: target.into(),
    };
    let mut runs = Runs::default();
    for scenario in ["ping", "cart"] {
        for round in 1..=rounds {
            for target in ["echo", "aisle"] {
                let name = format!("{scenario} vs {target}");
                if runs.failed.contains(&name) {
                    continue;
                }
                let (url, key, origin, a) = match (target, &aisle) {
                    ("echo", _) => (echo.url(), "pk_echo".to_owned(), None, None),
                    (_, Some(a)) => (a.ws_url(), a.deployment_key.clone(), Some(a.base.clone()), Some(a)),
                    (_, None) => continue,
                };
                settle().await;
                eprintln!("{name}, round {round}/{rounds}…");
                let r = match scenario {
                    "ping" => ping::run(&ping_opts(url, &key, origin, target)).await,
                    _ => cart::run(&cart_opts(url, &key, origin, target)).await,
                };
                runs.record(&name, r, a);
            }
        }
    }
    let Runs { outcomes, failures, .. } = runs;
    drop(aisle);
    drop(echo);

    let settings = format!(
        "{rounds} interleaved rounds (echo, aisle, echo, aisle…) per scenario; ping: {} clients × {:.0} s in total (+{:.0} s warm-up per round); cart: {:.0} commands/s × {:.0} s over {} clients; echo baseline: {:?}{}",
        o.clients,
        o.duration.as_secs_f64(),
        o.warmup.as_secs_f64(),
        o.cart_rate,
        o.cart_duration.as_secs_f64(),
        o.cart_clients,
        o.echo_mode,
        if o.echo_mode == EchoMode::Subprocess { String::new() } else { format!(", {} threads", o.echo_threads) },
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let info = RunInfo::collect(repo, settings, background);
    println!("\n{}\n", report::markdown_table(&outcomes));
    println!("{}", report::goals(&outcomes));
    for f in &failures {
        println!("FAILED: {f}");
    }
    let measured_aisle = outcomes.iter().any(|x| x.target == "aisle");
    if o.write && measured_aisle {
        write_all(&o.out_dir, &info, &outcomes, &failures)?;
    } else if o.write {
        eprintln!("nothing measured against Aisle: RESULTS.md and results.csv left unchanged");
    }
    if !failures.is_empty() {
        bail!("{} step(s) failed", failures.len());
    }
    Ok(())
}

fn write_all(dir: &Path, info: &RunInfo, outcomes: &[Outcome], failures: &[String]) -> Result<()> {
    let md = dir.join("RESULTS.md");
    report::write_results_md(&md, info, outcomes)?;
    if !failures.is_empty() {
        let mut text = std::fs::read_to_string(&md)?;
        text.push_str("\n## Failed steps\n\n");
        for f in failures {
            text.push_str(&format!("- {}\n", f.replace('\n', " ")));
        }
        std::fs::write(&md, text)?;
    }
    let csv = dir.join("results.csv");
    report::append_csv(&csv, info, outcomes)?;
    eprintln!("wrote {} and appended to {}", md.display(), csv.display());
    plot(dir);
    Ok(())
}

/// Regenerates `results.svg` with `plot.py` if python3 with matplotlib is there.
fn plot(dir: &Path) {
    run_plot(dir, "plot.py", "results.svg");
}

/// Runs `python3 <dir>/<script>` (bounded to 120 s), which writes `<dir>/<svg>`; if
/// python3 or matplotlib is missing, says how to plot by hand.
pub(crate) fn run_plot(dir: &Path, script: &str, svg: &str) {
    let script = dir.join(script);
    let child = Command::new("python3")
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not found; to plot: pip install matplotlib && python3 {}", script.display());
        return;
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => {
                eprintln!("plotted {}", dir.join(svg).display());
                return;
            }
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    eprintln!("{svg} not regenerated; to plot: pip install matplotlib && python3 {}", script.display());
}

/// Outcomes so far (segments of one scenario and target merged) and failures.
#[derive(Default)]
struct Runs {
    outcomes: Vec<Outcome>,
    failures: Vec<String>,
    /// `"<scenario> vs <target>"` that failed once and are not retried.
    failed: Vec<String>,
}

impl Runs {
    fn record(&mut self, name: &str, r: Result<Outcome>, aisle: Option<&Aisle>) {
        match r {
            Ok(out) => {
                eprintln!("{}", out.describe());
                let same = |x: &Outcome| x.scenario == out.scenario && x.target == out.target;
                match self.outcomes.iter().position(same) {
                    Some(i) => {
                        let prev = self.outcomes.remove(i);
                        self.outcomes.insert(i, prev.merge(&out));
                    }
                    None => self.outcomes.push(out),
                }
            }
            Err(e) => {
                let msg = format!("{name} failed: {e:#}");
                eprintln!("{msg}");
                if let Some(t) = aisle.map(Aisle::log_tail).filter(|t| !t.is_empty()) {
                    eprintln!("aisle log tail:\n{t}");
                }
                self.failures.push(msg);
                self.failed.push(name.to_owned());
            }
        }
    }
}

/// A pause between scenarios so one's tail (closing sockets) does not hit the next.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}
