//! `coffer-bench`: Coffer's benchmark harness. In one process it starts Coffer (the real app,
//! embedded default, fresh temp data directory) and a trivial hyper baseline, drives both with the
//! same keep-alive load generator, and prints req/s, latency percentiles, the ratio to the
//! baseline, key-provider calls and memory at two catalog sizes — as a table, or JSON with
//! `--json`. Method and figures: docs/performance.md.
//!
//! Two tokio runtimes share the machine: the servers' (like `coffer serve`: multi-threaded, one
//! worker per CPU) and the load generator's. Build with `--release`; a debug build's figures
//! mean nothing (the report says which build produced it).
//!
//! `--catalog postgres://…` and `--s3-endpoint URL` run the same scenarios on a PostgreSQL
//! catalog and on blobs in an S3-compatible store (`backend`).

#![forbid(unsafe_code)]

mod app;
mod backend;
mod baseline;
mod catalog;
mod cpu;
mod fsync;
mod http;
mod load;
mod machine;
mod paced;
mod pg;
mod report;
mod run;
mod s3;
mod table;
mod writer;

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::time::Duration;

/// The allocator `coffer serve` runs with, so the figures are the shipped server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmarks Coffer against a trivial hyper handler on this machine (see docs/performance.md).
#[derive(Parser, Debug)]
#[command(name = "coffer-bench", version)]
struct Args {
    /// Keep-alive connections of the load generator (one request in flight on each).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measuring time per scenario, e.g. `10s` or `300ms` [default: 10s; 2s with --quick].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// A short run (under a minute): 2 s scenarios, 5,000 reveals / 500 writes counted for
    /// key-provider calls, and 1,000 vs 100,000 secrets in the catalog.
    #[arg(long)]
    quick: bool,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Reveals counted for key-provider calls [default: 100000; 5000 with --quick].
    #[arg(long)]
    reveal_count: Option<u64>,
    /// Writes counted for key-provider calls [default: 10000; 500 with --quick].
    #[arg(long)]
    write_count: Option<u64>,
    /// Catalog sizes compared, SMALL,LARGE [default: 1000,1000000; 1000,100000 with --quick].
    #[arg(long, value_parser = parse_sizes)]
    catalog_sizes: Option<(u64, u64)>,
    /// Catalog on this PostgreSQL server instead of the embedded SQLite, e.g.
    /// `postgres://postgres@127.0.0.1:5432`: the bench creates a database of its own for each
    /// app there and drops it at the end (the user must be allowed to CREATE DATABASE).
    #[arg(long, value_name = "postgres://…")]
    catalog: Option<String>,
    /// Blobs in a fresh bucket on this S3-compatible endpoint (e.g. a moto server,
    /// `http://127.0.0.1:5000`) instead of files. Credentials: `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` if set, else dummy keys (enough for moto).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
}

fn parse_sizes(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or("expected SMALL,LARGE, e.g. 1000,1000000")?;
    let parse = |x: &str| {
        x.trim()
            .replace('_', "")
            .parse::<u64>()
            .map_err(|e| format!("{x:?}: {e}"))
    };
    let (small, large) = (parse(a)?, parse(b)?);
    let min = run::LIST_SECRETS + 1;
    if small < min || large <= small {
        return Err(format!(
            "need {min} <= SMALL < LARGE (SMALL includes the {} listed secrets)",
            run::LIST_SECRETS
        ));
    }
    Ok((small, large))
}

impl Args {
    fn plan(&self) -> Result<run::Plan> {
        if self.connections == 0 {
            bail!("--connections must be at least 1");
        }
        let duration = self.duration.unwrap_or(if self.quick {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(10)
        });
        if duration < Duration::from_millis(50) {
            bail!("--duration must be at least 50ms");
        }
        let backends = backend::Backends {
            postgres: self.catalog.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
        };
        backends.check()?;
        Ok(run::Plan {
            backends,
            connections: self.connections,
            duration,
            quick: self.quick,
            reveal_count: self
                .reveal_count
                .unwrap_or(if self.quick { 5_000 } else { 100_000 })
                .max(1),
            write_count: self
                .write_count
                .unwrap_or(if self.quick { 500 } else { 10_000 })
                .max(1),
            catalog_sizes: self.catalog_sizes.unwrap_or(if self.quick {
                (1_000, 100_000)
            } else {
                (1_000, 1_000_000)
            }),
        })
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let plan = args.plan()?;
    let servers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("server")
        .build()
        .context("server runtime")?;
    let load = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(cpu::LOAD_THREADS)
        .build()
        .context("load runtime")?;
    let report = load.block_on(run::run(&plan, servers.handle().clone()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    servers.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
