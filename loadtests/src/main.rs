//! `loadtests`: Aisle's load generator and its baseline.
//!
//! Subcommands: `echo-server` (the raw tokio-tungstenite baseline), `ping` (closed-loop
//! WebSocket round trips), `cart` (open-loop cart-command latency to the ack and to the
//! `cart` event), `bench`
//! (everything against echo and a freshly started Aisle, written to `RESULTS.md`,
//! `results.csv`) and `groq` (answers streamed from a fake Groq through Aisle vs straight
//! from the fake; its own section of `RESULTS.md`, `groq.csv`). See `loadtests/README.md`.

mod bench;
mod cart;
mod echo;
mod groq;
mod ping;
mod procs;
mod report;
mod stats;
mod wsclient;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "loadtests", about = "Aisle's load generator and baselines")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The baseline WebSocket server: answers `ping` with `pong` and `hello` with `welcome`.
    EchoServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
        /// Also answer `message` (one fake product) and `cart.set` (ack + cart).
        #[arg(long)]
        fake_shop: bool,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 3600)]
        max_seconds: u64,
    },
    /// Closed-loop ping→pong round trips; throughput and latency.
    Ping {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        #[arg(long, default_value = "pk_echo")]
        deployment_key: String,
        /// `Origin` header for the upgrade request.
        #[arg(long)]
        origin: Option<String>,
        /// Label for the report.
        #[arg(long, default_value = "server")]
        target: String,
    },
    /// Open-loop `cart.set` at a fixed rate; latency from the scheduled send time to the ack and to the `cart` event.
    Cart {
        #[arg(long)]
        url: String,
        /// Commands per second, all clients together.
        #[arg(long, default_value_t = 2000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        #[arg(long, default_value = "pk_echo")]
        deployment_key: String,
        #[arg(long)]
        origin: Option<String>,
        #[arg(long, default_value = "server")]
        target: String,
    },
    /// Echo baseline vs Aisle, ping and cart; writes RESULTS.md and results.csv.
    Bench {
        /// Ping clients (the same for echo and Aisle).
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Measured seconds of each ping run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Warm-up seconds before every measured window.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        #[arg(long, default_value_t = 2000.0)]
        cart_rate: f64,
        #[arg(long, default_value_t = 10.0)]
        cart_duration: f64,
        #[arg(long, default_value_t = 50)]
        cart_clients: usize,
        /// Default: $CARGO_TARGET_DIR/release/aisle (or the workspace's target/).
        #[arg(long)]
        aisle_bin: Option<PathBuf>,
        /// Measure an already running Aisle at this loopback base URL instead.
        #[arg(long)]
        aisle_url: Option<String>,
        /// Only the echo baseline (a self-test of the generator); writes nothing.
        #[arg(long)]
        skip_aisle: bool,
        #[arg(long, value_enum, default_value_t = bench::EchoMode::OwnRuntime)]
        echo_mode: bench::EchoMode,
        /// Worker threads of the in-process echo runtime (default: the core count).
        #[arg(long)]
        echo_threads: Option<usize>,
        /// Seconds to wait for Aisle's /healthz.
        #[arg(long, default_value_t = 60)]
        health_timeout: u64,
        /// Where RESULTS.md, results.csv and results.svg go (default: this crate's dir).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Print only; leave RESULTS.md and results.csv alone.
        #[arg(long)]
        no_write: bool,
        /// Keep Aisle's scratch data dir and log.
        #[arg(long)]
        keep_data: bool,
        /// Seconds to wait for other processes to leave the CPUs mostly idle first.
        #[arg(long, default_value_t = 120)]
        quiet_wait: u64,
        /// Split each scenario into this many alternating echo/aisle segments, so a
        /// passing load spike on the shared machine hits both targets alike.
        #[arg(long, default_value_t = 2)]
        rounds: u32,
        /// Dry run: start `loadtests echo-server` where Aisle would be; writes nothing.
        #[arg(long)]
        fake_aisle: bool,
    },
    /// Answers streamed from a fake Groq through Aisle vs straight from the fake;
    /// writes its section of RESULTS.md, groq.csv and groq.svg.
    Groq {
        /// The fake's token rates, tokens per second (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [280.0, 750.0])]
        rates: Vec<f64>,
        /// Concurrent conversations per scenario (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [100, 1000])]
        conversations: Vec<usize>,
        /// Tokens in each answer of the fake.
        #[arg(long, default_value_t = 60)]
        tokens: usize,
        /// Conversations of one unmeasured pass against each target first.
        #[arg(long, default_value_t = 20)]
        warmup_conversations: usize,
        /// Seconds a conversation may take from its send to the end of its answer.
        #[arg(long, default_value_t = 60.0)]
        reply_timeout: f64,
        /// Shopper sessions opened at once while preparing a scenario (not measured).
        #[arg(long, default_value_t = 50)]
        open_concurrency: usize,
        /// Worker threads of the fake Groq's runtime (default: the core count).
        #[arg(long)]
        fake_threads: Option<usize>,
        /// Default: $CARGO_TARGET_DIR/release/aisle (or the workspace's target/).
        #[arg(long)]
        aisle_bin: Option<PathBuf>,
        #[arg(long, default_value_t = 60)]
        health_timeout: u64,
        /// Where RESULTS.md, groq.csv and groq.svg go (default: this crate's dir).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Print only; leave RESULTS.md and groq.csv alone.
        #[arg(long)]
        no_write: bool,
        /// Keep Aisle's scratch data dir and log.
        #[arg(long)]
        keep_data: bool,
        /// Seconds to wait for other processes to leave the CPUs mostly idle first.
        #[arg(long, default_value_t = 120)]
        quiet_wait: u64,
    },
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    if !(s.is_finite() && (0.0..=86_400.0).contains(&s)) {
        bail!("--{what} must be between 0 and 86400 seconds");
    }
    Ok(Duration::from_secs_f64(s))
}

fn default_aisle_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/aisle")
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::EchoServer { bind, fake_shop, max_seconds } => {
            let lifetime = Duration::from_secs(max_seconds);
            let server = echo::start(&bind, echo::EchoOptions { fake_shop }, lifetime).await?;
            println!("echo server listening on {}", server.url());
            tokio::select! {
                _ = tokio::time::sleep(lifetime) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            server.stop();
        }
        Cmd::Ping { url, clients, duration, warmup, deployment_key, origin, target } => {
            let o = ping::PingOptions {
                url,
                origin,
                deployment_key,
                clients,
                duration: secs(duration, "duration")?,
                warmup: secs(warmup, "warmup")?,
                target,
            };
            println!("{}", ping::run(&o).await?.describe());
        }
        Cmd::Cart { url, rate, duration, clients, warmup, deployment_key, origin, target } => {
            let o = cart::CartOptions {
                url,
                origin,
                deployment_key,
                clients,
                rate,
                duration: secs(duration, "duration")?,
                warmup: secs(warmup, "warmup")?,
                target,
            };
            println!("{}", cart::run(&o).await?.describe());
        }
        Cmd::Bench {
            clients,
            duration,
            warmup,
            cart_rate,
            cart_duration,
            cart_clients,
            aisle_bin,
            aisle_url,
            skip_aisle,
            echo_mode,
            echo_threads,
            health_timeout,
            out_dir,
            no_write,
            keep_data,
            quiet_wait,
            rounds,
            fake_aisle,
        } => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let o = bench::BenchOptions {
                clients,
                duration: secs(duration, "duration")?,
                warmup: secs(warmup, "warmup")?,
                cart_rate,
                cart_duration: secs(cart_duration, "cart-duration")?,
                cart_clients,
                aisle_bin: aisle_bin.unwrap_or_else(default_aisle_bin),
                aisle_url,
                skip_aisle,
                echo_mode,
                echo_threads: echo_threads.unwrap_or(cores),
                health_timeout: Duration::from_secs(health_timeout),
                out_dir: out_dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
                write: !no_write && !skip_aisle && !fake_aisle,
                keep_data,
                quiet_wait: Duration::from_secs(quiet_wait),
                rounds: rounds.clamp(1, 100),
                fake_aisle,
            };
            bench::run(&o).await?;
        }
        Cmd::Groq {
            rates,
            conversations,
            tokens,
            warmup_conversations,
            reply_timeout,
            open_concurrency,
            fake_threads,
            aisle_bin,
            health_timeout,
            out_dir,
            no_write,
            keep_data,
            quiet_wait,
        } => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let o = groq::GroqOptions {
                rates,
                conversations,
                tokens,
                warmup_conversations,
                reply_timeout: secs(reply_timeout, "reply-timeout")?,
                open_concurrency,
                fake_threads: fake_threads.unwrap_or(cores),
                aisle_bin: aisle_bin.unwrap_or_else(default_aisle_bin),
                health_timeout: Duration::from_secs(health_timeout),
                out_dir: out_dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
                write: !no_write,
                keep_data,
                quiet_wait: Duration::from_secs(quiet_wait),
            };
            groq::run(&o).await?;
        }
    }
    Ok(())
}
