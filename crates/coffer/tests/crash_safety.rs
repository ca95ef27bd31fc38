//! Acknowledged writes survive `kill -9`. A real `coffer serve` process takes concurrent writes
//! and reveals; the test kills it with SIGKILL mid-stream, starts a new process on the same data
//! directory, and checks that every write the server acknowledged reads back with its exact
//! value, that every answered reveal left its audit event (reveals are answered once committed,
//! before their fsync: see `catalog/sqlite/writer.rs`), and that the audit chain still verifies.
//! Requests that were in flight may or may not have landed — both are correct — but none may be
//! lost once answered.
//!
//! And a disk whose fsync fails: the same binary under libfiu's `fiu-run` stops writing at the
//! first failed fsync of its catalog and loses nothing it acknowledged before.
//!
//! The crash soak's org also moves its envelopes between the default store and its own bucket on
//! a moto server, which keeps running (and keeps its objects) across the kills.

/// The moto harness of the server's AWS tests, shared rather than copied.
#[path = "../../server/tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

use base64::Engine;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    start_under(data, &[], &[])
}

/// `coffer serve` on `data` with extra environment (config overrides).
fn start_with_env(data: &Path, env: &[(&str, String)]) -> Server {
    start_under(data, &[], env)
}

/// `coffer serve` on `data`, run through `wrapper` (a command and its arguments) if not empty,
/// with extra environment `env`.
fn start_under(data: &Path, wrapper: &[&str], env: &[(&str, String)]) -> Server {
    try_start_under(data, wrapper, env).expect("server printed its address")
}

/// [`start_under`], or why the server did not start (it exited, or printed no address within
/// 30 s; it is stopped then).
fn try_start_under(
    data: &Path,
    wrapper: &[&str],
    env: &[(&str, String)],
) -> Result<Server, std::sync::mpsc::RecvTimeoutError> {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(env!("CARGO_BIN_EXE_coffer"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_coffer")),
    };
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("coffer serve starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("coffer: listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(base) => Ok(Server { child, base }),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();

    // A secret for 4 revealers to reveal, each counting the reveals it was answered.
    let seen_url = format!("{}/api/v1/orgs/default/secrets/CRASH-2/seen", server.base);
    let r = client
        .put(&seen_url)
        .bearer_auth(&token)
        .json(&json!({"value": B64.encode("watched")}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut revealers = Vec::new();
    for _ in 0..4 {
        let (client, token, url) = (client.clone(), token.clone(), format!("{seen_url}/reveal"));
        revealers.push(tokio::spawn(async move {
            let mut answered = 0u64;
            loop {
                match client.post(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => answered += 1,
                        Err(_) => break, // died while answering: may or may not be counted
                    },
                    Ok(r) => panic!("unexpected status {} before the kill", r.status()),
                    Err(_) => break,
                }
            }
            answered
        }));
    }

    // 8 writers, each writing new versions of its own secrets, until the server dies.
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, token, base) = (client.clone(), token.clone(), server.base.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0.. {
                let (name, value) = (format!("w{w}-s{}", n % 5), format!("writer {w} write {n}"));
                let url = format!("{base}/api/v1/orgs/default/secrets/CRASH-1/{name}");
                let sent = client
                    .put(&url)
                    .bearer_auth(&token)
                    .json(&json!({"value": B64.encode(&value)}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        if let Some(v) = body["version"].as_u64() {
                            acked.push((name, v, value));
                        }
                    }
                    Ok(r) => panic!("unexpected status {} before the kill", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
            acked
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    server.child.wait().unwrap();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 20,
        "the loop should have written plenty before the kill ({} in {:?})",
        acked.len(),
        started.elapsed()
    );

    let mut revealed = 0;
    for r in revealers {
        revealed += r.await.unwrap();
    }
    assert!(revealed > 20, "only {revealed} reveals before the kill");

    let server = start(&data);
    let audited = count_events(
        &client,
        &server.base,
        &token,
        "secret.reveal",
        "CRASH-2/seen",
    )
    .await;
    assert!(
        audited >= revealed,
        "{revealed} reveals were answered but only {audited} are in the audit trail"
    );
    for (name, version, value) in &acked {
        let url = format!(
            "{}/api/v1/orgs/default/secrets/CRASH-1/{name}/reveal?version={version}",
            server.base
        );
        let r = client.post(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged {name} v{version} is lost");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            B64.decode(body["value"].as_str().unwrap()).unwrap(),
            value.as_bytes(),
            "{name} v{version}"
        );
    }
    let verify = get_json(
        &client,
        &format!("{}/api/v1/orgs/default/audit/verify", server.base),
        &token,
    )
    .await;
    assert_eq!(verify["ok"], true, "{verify}");
    eprintln!(
        "{} acknowledged writes and {revealed} answered reveals all survived SIGKILL",
        acked.len()
    );
}

/// `fiu-run` (Debian `fiu-utils`, which scripts/test.sh installs): `COFFER_FIU_RUN`, else `PATH`.
/// Without it the test fails, never skips.
fn fiu_run() -> String {
    if let Ok(p) = std::env::var("COFFER_FIU_RUN") {
        return p;
    }
    let found = Command::new("sh")
        .args(["-c", "command -v fiu-run"])
        .output()
        .expect("sh");
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(
        !path.is_empty(),
        "fiu-run is needed (apt-get install fiu-utils, as scripts/test.sh does) or COFFER_FIU_RUN"
    );
    path
}

/// A disk whose fsync fails at random (libfiu's `posix/io/sync/*` failpoints, injected into the
/// real binary with `fiu-run`): Coffer must stop accepting writes at the first failed fsync — a
/// write it cannot make durable is never acknowledged, and after a failed fsync the page cache
/// can no longer be trusted (PostgreSQL's "fsyncgate") — while everything it acknowledged before
/// is there after a restart on a healthy disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_fsync_stops_writes_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = start(&data); // bootstrap on a healthy disk
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let fiu = fiu_run();
    // A failed fsync while starting makes the server refuse to start — it cannot make its state
    // durable — which is right, but this test needs a server that started: it tries again.
    let mut server = (0..10)
        .find_map(|_| {
            try_start_under(
                &data,
                &[
                    &fiu,
                    "-x",
                    "-c",
                    "enable_random name=posix/io/sync/fsync,probability=0.02",
                    "-c",
                    "enable_random name=posix/io/sync/fdatasync,probability=0.02",
                ],
                &[],
            )
            .ok()
        })
        .expect("the server started under fiu-run within 10 attempts");
    let client = reqwest::Client::new();
    let mut acked = Vec::new();
    let mut refused_since = None;
    let mut blob_failures = 0;
    for n in 0..2000 {
        let (name, value) = (format!("s{}", n % 50), format!("write {n}"));
        let url = format!("{}/api/v1/orgs/default/secrets/DISK-1/{name}", server.base);
        let r = client
            .put(&url)
            .bearer_auth(&token)
            .json(&json!({"value": B64.encode(&value)}))
            .send()
            .await
            .expect("the server answers");
        match r.status().as_u16() {
            200 | 201 => {
                assert!(
                    refused_since.is_none(),
                    "write {n} was acknowledged after write {refused_since:?} was refused for a failed fsync"
                );
                let body: serde_json::Value = r.json().await.unwrap();
                acked.push((name, body["version"].as_u64().unwrap(), value));
            }
            503 => {
                // An envelope file whose fsync failed fails that write only (the file is never
                // referenced); a failed fsync of the catalog stops every write after it.
                let body: serde_json::Value = r.json().await.unwrap();
                let message = body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if message.contains("catalog") || message.contains("stopped accepting writes") {
                    if refused_since.is_some_and(|at| n > at) {
                        // Once stopped, the answer says why, and that retrying will not help.
                        assert!(
                            message.contains("stopped accepting writes")
                                && message.contains("restart"),
                            "write {n}: {message}"
                        );
                    }
                    refused_since.get_or_insert(n);
                } else {
                    assert!(message.contains("secret storage"), "write {n}: {message}");
                    blob_failures += 1;
                }
                if refused_since.is_some_and(|at| n >= at + 20) {
                    break; // refused for good: enough seen
                }
            }
            other => panic!("write {n}: unexpected status {other}"),
        }
    }
    let refused_at = refused_since.expect("with fsync failing 2% of the time, writes stopped");

    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // A healthy disk again: everything acknowledged is there, and the chain verifies.
    let server = start(&data);
    for (name, version, value) in &acked {
        let url = format!(
            "{}/api/v1/orgs/default/secrets/DISK-1/{name}/reveal?version={version}",
            server.base
        );
        let r = client.post(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged {name} v{version} is lost");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            B64.decode(body["value"].as_str().unwrap()).unwrap(),
            value.as_bytes()
        );
    }
    let verify = get_json(
        &client,
        &format!("{}/api/v1/orgs/default/audit/verify", server.base),
        &token,
    )
    .await;
    assert_eq!(verify["ok"], true, "{verify}");
    let r = client
        .put(format!(
            "{}/api/v1/orgs/default/secrets/DISK-1/after",
            server.base
        ))
        .bearer_auth(&token)
        .json(&json!({"value": B64.encode("healthy again")}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "writes resume after a restart");
    eprintln!(
        "{} writes acknowledged ({blob_failures} failed on an envelope's fsync) before a failed catalog fsync stopped writes at write {refused_at}; all survived",
        acked.len()
    );
}

/// Iterations of [`a_crash_soak_over_mixed_load_loses_nothing`]: `COFFER_SOAK_ITERATIONS`, 3 by
/// default (the CI run); `scripts/soak.sh` runs the long campaign.
fn soak_iterations() -> u64 {
    std::env::var("COFFER_SOAK_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// A pseudo-random number in `0..n` (kill points and key choices need no cryptography; the
/// seed is printed so a failing run can be told apart).
fn pick(state: &mut u64, n: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % n.max(1)
}

/// What a soak iteration's clients were answered.
#[derive(Default)]
struct Answered {
    /// (name, version, value) of every acknowledged write.
    writes: Vec<(String, u64, String)>,
    /// Reveals of the view-counted secret that were answered with its value.
    views: u64,
    /// Reveals of it that were sent and never answered (the kill came first).
    views_in_flight: u64,
    /// Key rotations acknowledged.
    rotations: u64,
    /// Storage changes acknowledged (into the bucket or back to the default store): each starts
    /// a migration of every version's envelope and manifest.
    migrations: u64,
}

/// The region of the soak org's bucket (org `default` is `local`: any region will do).
const SOAK_REGION: &str = "eu-central-1";
/// How long a storage migration may take to finish after a restart.
const MIGRATION_BOUND: Duration = Duration::from_secs(120);

/// `coffer serve`'s settings for the soak: tenant buckets may live on moto (a loopback
/// endpoint), reached with moto's dummy keys, and the mover looks for work every 100 ms.
fn soak_env() -> Vec<(&'static str, String)> {
    vec![
        ("COFFER_STORAGE__ALLOW_CUSTOM_ENDPOINTS", "true".into()),
        ("COFFER_STORAGE__MIGRATION_INTERVAL", "100ms".into()),
        ("COFFER_STORAGE__AWS__CREDENTIALS__KIND", "static".into()),
        (
            "COFFER_STORAGE__AWS__CREDENTIALS__ACCESS_KEY_ID",
            "test".into(),
        ),
        (
            "COFFER_STORAGE__AWS__CREDENTIALS__SECRET_ACCESS_KEY",
            "test".into(),
        ),
    ]
}

/// Creates a fresh bucket on `moto` for the soak org and returns its name.
async fn soak_bucket(moto: &moto::Moto) -> String {
    let bucket = moto::unique("soak");
    let s3 = coffer_server::aws::s3_client(&moto.settings(SOAK_REGION))
        .await
        .unwrap();
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(SOAK_REGION.into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    bucket
}

/// Polls the org's storage (`GET …/storage`) until `done` holds of it, for at most
/// [`MIGRATION_BOUND`]; returns what it last read.
async fn wait_storage(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + MIGRATION_BOUND;
    loop {
        let s = get_json(client, url, token).await;
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {MIGRATION_BOUND:?}; storage: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reveals every acknowledged write by its version and compares the value.
async fn check_acknowledged(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    acknowledged: &[(String, u64, String)],
    when: &str,
) {
    for (name, version, value) in acknowledged {
        let url =
            format!("{base}/api/v1/orgs/default/secrets/SOAK-1/{name}/reveal?version={version}");
        let r = client.post(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(
            r.status(),
            200,
            "{when}: acknowledged {name} v{version} is lost"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            B64.decode(body["value"].as_str().unwrap()).unwrap(),
            value.as_bytes(),
            "{when}: {name} v{version}"
        );
    }
}

/// The crash soak: `kill -9` at a random point of a mixed load — new versions of many secrets,
/// reveals of a view-counted secret, org-key rotations, and the org's storage switched into its
/// own bucket (on moto, which outlives the kills) and back, each switch starting a background
/// migration — then a restart on the same data, again and again. After every restart each
/// acknowledged write (from every iteration so far) reads back exactly, wherever its envelope is
/// now and while the interrupted migration resumes; the counted views are at least the answered
/// ones and at most those plus the reveals the kill cut short; the org key is at least as new as
/// the acknowledged rotations; the audit chain verifies; and the interrupted migration resumes
/// and finishes. An org the kill left on its bucket goes back to the default store once its move
/// is seen to resume, so every iteration starts at home and each migration moves a bounded part
/// of the org (moving all of a growing org would make every iteration cost more than the last).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_soak_over_mixed_load_loses_nothing() {
    let iterations = soak_iterations();
    let moto = moto::Moto::start();
    let bucket = soak_bucket(&moto).await;
    let env = soak_env();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start_with_env(&data, &env);
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    const COUNTED: &str = "/api/v1/orgs/default/secrets/SOAK-9/counted";
    const STORAGE: &str = "/api/v1/orgs/default/storage";
    let r = client
        .put(format!("{}{COUNTED}", server.base))
        .bearer_auth(&token)
        .json(&json!({"value": B64.encode("counted"), "view_limit": 1_000_000}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("soak: {iterations} iterations, seed {seed}");
    let started = Instant::now();
    let mut acknowledged: Vec<(String, u64, String)> = Vec::new();
    let (mut views_answered, mut views_in_flight, mut rotations) = (0u64, 0u64, 0u64);
    // Storage switches acknowledged, and the migrations a kill interrupted (of which into the
    // bucket).
    let (mut migrations, mut resumed, mut resumed_into_bucket) = (0u64, 0u64, 0u64);
    for iteration in 0..iterations {
        let answered = std::sync::Arc::new(std::sync::Mutex::new(Answered::default()));
        let mut tasks = Vec::new();
        for w in 0..4u64 {
            let (client, token, base, answered) = (
                client.clone(),
                token.clone(),
                server.base.clone(),
                answered.clone(),
            );
            let mut rng = seed.wrapping_add(w * 7919) | 1;
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("s{}", pick(&mut rng, 40));
                    let value = format!("iteration {iteration} writer {w} write {n}");
                    let sent = client
                        .put(format!("{base}/api/v1/orgs/default/secrets/SOAK-1/{name}"))
                        .bearer_auth(&token)
                        .json(&json!({"value": B64.encode(&value)}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            let Ok(body) = r.json::<serde_json::Value>().await else {
                                break; // cut while answering: may or may not have landed
                            };
                            let version = body["version"].as_u64().unwrap();
                            answered.lock().unwrap().writes.push((name, version, value));
                        }
                        Ok(r) => panic!("write: unexpected status {} before the kill", r.status()),
                        Err(_) => break,
                    }
                }
            }));
        }
        for _ in 0..2 {
            let (client, token, url, answered) = (
                client.clone(),
                token.clone(),
                format!("{}{COUNTED}/reveal", server.base),
                answered.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    match client.post(&url).bearer_auth(&token).send().await {
                        Ok(r) if r.status() == 200 => match r.bytes().await {
                            Ok(_) => answered.lock().unwrap().views += 1,
                            Err(_) => {
                                answered.lock().unwrap().views_in_flight += 1;
                                break;
                            }
                        },
                        Ok(r) => panic!("reveal: unexpected status {} before the kill", r.status()),
                        Err(_) => {
                            answered.lock().unwrap().views_in_flight += 1;
                            break;
                        }
                    }
                }
            }));
        }
        {
            let (client, token, base, answered) = (
                client.clone(),
                token.clone(),
                server.base.clone(),
                answered.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    let sent = client
                        .post(format!("{base}/api/v1/orgs/default/keys/rotate"))
                        .bearer_auth(&token)
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => answered.lock().unwrap().rotations += 1,
                        Ok(r) => panic!("rotate: unexpected status {} before the kill", r.status()),
                        Err(_) => break,
                    }
                }
            }));
        }
        {
            // Into the bucket after a while, back to the default store after another, and so
            // on: each switch starts a migration, and the writes above land in whichever store
            // is the org's at the time.
            let (client, token, url, answered) = (
                client.clone(),
                token.clone(),
                format!("{}{STORAGE}", server.base),
                answered.clone(),
            );
            let to_bucket =
                json!({"bucket": bucket, "region": SOAK_REGION, "endpoint": moto.endpoint()});
            let mut rng = seed.wrapping_add(104_729) | 1;
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    // The first switch early, so that even a short iteration has a migration.
                    let pause = if n == 0 {
                        100
                    } else {
                        50 + pick(&mut rng, 300)
                    };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    let sent = match n % 2 {
                        0 => client.put(&url).json(&to_bucket),
                        _ => client.delete(&url),
                    };
                    match sent.bearer_auth(&token).send().await {
                        Ok(r) if r.status().is_success() => {
                            answered.lock().unwrap().migrations += 1
                        }
                        Ok(r) => panic!(
                            "storage switch: unexpected status {} before the kill: {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ),
                        Err(_) => break,
                    }
                }
            }));
        }
        let kill_after = 200 + pick(&mut seed, 1300);
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let a = std::mem::take(&mut *answered.lock().unwrap());
        acknowledged.extend(a.writes);
        views_answered += a.views;
        views_in_flight += a.views_in_flight;
        rotations += a.rotations;
        migrations += a.migrations;

        server = start_with_env(&data, &env);
        let storage_url = format!("{}{STORAGE}", server.base);
        // Where the kill left the org; the migration it interrupted resumes at once, while the
        // reads below run.
        let at_restart = get_json(&client, &storage_url, &token).await;
        if at_restart["migration"]["state"] != "idle" {
            resumed += 1;
            resumed_into_bucket += u64::from(at_restart["kind"] == "custom");
        }
        let when = format!("iteration {iteration}");
        check_acknowledged(&client, &server.base, &token, &acknowledged, &when).await;
        // The reveals above read SOAK-1 only: the counted secret's views are the load's.
        let meta = get_json(&client, &format!("{}{COUNTED}", server.base), &token).await;
        let views = meta["views"].as_u64().unwrap();
        assert!(
            views >= views_answered && views <= views_answered + views_in_flight,
            "iteration {iteration}: {views} views recorded, {views_answered} answered, {views_in_flight} cut short"
        );
        let org = get_json(
            &client,
            &format!("{}/api/v1/orgs/default", server.base),
            &token,
        )
        .await;
        assert!(
            org["key_version"].as_u64().unwrap() > rotations,
            "iteration {iteration}: key version {} after {rotations} acknowledged rotations",
            org["key_version"]
        );
        let verify = get_json(
            &client,
            &format!("{}/api/v1/orgs/default/audit/verify", server.base),
            &token,
        )
        .await;
        assert_eq!(verify["ok"], true, "iteration {iteration}: {verify}");

        // The interrupted migration resumed and finishes. Left on the bucket, the org goes home
        // once its move into the bucket is seen to progress (or to be done), and that move
        // finishes too: every version back in the default store.
        if at_restart["kind"] == "custom" {
            let before = at_restart["migration"]["done"].as_u64().unwrap();
            wait_storage(
                &client,
                &storage_url,
                &token,
                &format!("iteration {iteration}: the move into the bucket resumes"),
                |s| {
                    s["migration"]["state"] == "idle"
                        || s["migration"]["done"].as_u64().unwrap() > before
                },
            )
            .await;
            let r = client
                .delete(&storage_url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "back home: {}", r.status());
        }
        let home = wait_storage(
            &client,
            &storage_url,
            &token,
            &format!("iteration {iteration}: the move to the default store finishes"),
            |s| s["migration"]["state"] == "idle",
        )
        .await;
        assert_eq!(home["kind"], "default", "iteration {iteration}: {home}");
        assert_eq!(
            home["migration"]["done"], home["migration"]["total"],
            "iteration {iteration}: {home}"
        );
        if (iteration + 1) % 10 == 0 {
            eprintln!(
                "soak: {} of {iterations} iterations clean after {:.0?} ({} acknowledged writes, {migrations} storage migrations so far)",
                iteration + 1,
                started.elapsed(),
                acknowledged.len()
            );
        }
    }
    // Every version is home now, including those the last migration moved back.
    check_acknowledged(&client, &server.base, &token, &acknowledged, "at the end").await;
    eprintln!(
        "soak: {iterations} kill -9 iterations in {:.0?}, {} acknowledged writes, {views_answered} answered reveals, {rotations} rotations, {migrations} storage migrations ({resumed} cut by a kill and resumed, {resumed_into_bucket} of them into the bucket): nothing lost",
        started.elapsed(),
        acknowledged.len()
    );
}

/// Counts the org's audit events with this action and target, paging through the trail.
async fn count_events(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    action: &str,
    target: &str,
) -> u64 {
    let (mut after, mut count) = (0u64, 0u64);
    loop {
        let url =
            format!("{base}/api/v1/orgs/default/audit?action={action}&after={after}&limit=10000");
        let page = get_json(client, &url, token).await;
        let events = page["events"].as_array().unwrap();
        let Some(last) = events.last() else {
            return count;
        };
        after = last["seq"].as_u64().unwrap();
        count += events.iter().filter(|e| e["target"] == target).count() as u64;
    }
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
