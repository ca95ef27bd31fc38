//! Generated chains: every state-changing operation of the served OpenAPI document, performed by
//! bravo's admin — or by any credential the attacker picked up on the way (tokens and codes from
//! earlier answers, and codes it plays at once) — in random sequences of 3 to 6 calls (identity
//! and credential operations drawn more often), with path parameters and bodies drawn
//! from names, orgs, roles and ids that matter (alpha's people, the operator, bravo's owner).
//! After every call the world is checked: nothing in alpha changed, no credential the attacker
//! holds acts in alpha or as the operator, and nobody in bravo is above admin but its owner.
//!
//! proptest drives it with a fixed seed, so a run is repeatable; a failure is shrunk to the
//! shortest sequence that still breaks the invariant, and printed with every call it made.

use crate::world::{BACKENDS, Backend, World};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// One state-changing operation of the document.
#[derive(Clone, Debug)]
struct Operation {
    method: Method,
    path: String,
    /// The request body's schema, resolved, if it takes one.
    body: Option<Value>,
}

/// What one generated step chooses; the concrete values are picked when it runs, from what the
/// attacker holds by then.
#[derive(Clone, Debug)]
struct Step {
    op: usize,
    credential: usize,
    seed: u64,
}

// Values drawn for parameters, repeated to weight them toward what an escalation needs: the
// attacker's own org, names that are not people yet (whose acceptance the attacker controls),
// and the owner role.
const ORGS: &[&str] = &["bravo", "bravo", "bravo", "alpha", "default", "nope"];
const NAMES: &[&str] = &[
    "mallory", "mallory", "ci", "aowner", "amember", "bowner", "badmin", "operator", "admin",
];
const ROLES: &[&str] = &["owner", "owner", "owner", "admin", "member", "auditor"];
const SCOPES: &[&str] = &["ALPHA-1", "BRAVO-1", "OPS-1"];
const SECRETS: &[&str] = &["db", "api-key"];

/// Every POST, PUT and DELETE of the served document (the sign-in and sign-out of the web UI
/// included), with `$ref` body schemas resolved.
async fn operations(w: &World) -> Vec<Operation> {
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", w.app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = doc["components"]["schemas"].clone();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, spec) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "post" => Method::POST,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                "patch" => Method::PATCH,
                _ => continue,
            };
            let body = spec["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|s| resolve(&Value::Object(s.clone()), &schemas));
            let op = Operation {
                method,
                path: path.clone(),
                body,
            };
            // Identity and credential operations are where escalations live: drawn 8 times as
            // often as the rest.
            let people = [
                "users",
                "invitations",
                "tokens",
                "service-accounts",
                "credentials",
                "me",
            ]
            .iter()
            .any(|p| path.contains(p));
            for _ in 0..if people { 8 } else { 1 } {
                ops.push(op.clone());
            }
        }
    }
    assert!(
        ops.len() >= 30,
        "the document lists {} state-changing operations",
        ops.len()
    );
    ops
}

fn resolve(schema: &Value, schemas: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(&schemas[r.rsplit('/').next().unwrap()], schemas),
        None => schema.clone(),
    }
}

/// A deterministic pick from `seed`'s `n`-th draw.
fn pick<'a>(seed: u64, n: u64, from: &[&'a str]) -> &'a str {
    let x = seed
        .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    from[((x >> 29) % from.len() as u64) as usize]
}

/// What the attacker has collected: credentials, codes and ids seen in answers.
#[derive(Default, Debug)]
struct Loot {
    tokens: Vec<String>,
    codes: Vec<String>,
    ids: Vec<String>,
    /// Codes already played by [`exploit`].
    played: usize,
}

impl Loot {
    fn collect(&mut self, v: &Value) {
        match v {
            Value::String(s) if s.starts_with("coffer_i_") || s.starts_with("coffer_r_") => {
                self.codes.push(s.clone())
            }
            Value::String(s) if s.starts_with("coffer_") => self.tokens.push(s.clone()),
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "id" && x.is_string() {
                        self.ids.push(x.as_str().unwrap().to_owned());
                    }
                    self.collect(x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.collect(x)),
            _ => {}
        }
    }
}

/// A value for a body field, by its name first and its type second.
fn value_for(field: &str, schema: &Value, seed: u64, n: u64, loot: &Loot) -> Value {
    let codes: Vec<&str> = loot.codes.iter().map(String::as_str).collect();
    match field {
        "name" | "user" | "service_account" => json!(pick(seed, n, NAMES)),
        "role" => json!(pick(seed, n, ROLES)),
        "org" | "slug" => json!(pick(seed, n, ORGS)),
        "code" if !codes.is_empty() => json!(pick(seed, n, &codes)),
        "password" | "current_password" => json!("correct horse battery staple"),
        "value" => json!("YXR0YWNrZXI="),
        _ => match schema["type"]
            .as_str()
            .or_else(|| schema["type"][0].as_str())
        {
            Some("integer") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => body_for(schema, seed, n + 100, loot),
            _ => json!(pick(seed, n, NAMES)),
        },
    }
}

fn body_for(schema: &Value, seed: u64, n: u64, loot: &Loot) -> Value {
    let mut body = Map::new();
    if let Some(props) = schema["properties"].as_object() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (i, (field, s)) in props.iter().enumerate() {
            // Optional fields half of the time.
            if required.contains(&field.as_str()) || (seed >> (i % 60)) & 1 == 1 {
                body.insert(field.clone(), value_for(field, s, seed, n + i as u64, loot));
            }
        }
    }
    Value::Object(body)
}

/// The concrete request of `step`.
fn request(op: &Operation, step: &Step, loot: &Loot) -> (String, Option<Value>) {
    let ids: Vec<&str> = loot.ids.iter().map(String::as_str).collect();
    let mut path = String::new();
    for (n, part) in op.path.split('/').enumerate() {
        if n > 0 {
            path.push('/');
        }
        let n = n as u64;
        path.push_str(match part {
            "{org}" => pick(step.seed, n, ORGS),
            "{name}" => pick(step.seed, n, NAMES),
            "{scope}" => pick(step.seed, n, SCOPES),
            "{n}" => "1",
            "{id}" if !ids.is_empty() => pick(step.seed, n, &ids),
            "{id}" => "00000000-0000-0000-0000-000000000000",
            p if p.starts_with('{') => pick(step.seed, n, SECRETS),
            p => p,
        });
    }
    let body = op.body.as_ref().map(|s| body_for(s, step.seed, 0, loot));
    (path, body)
}

/// The attacker uses every code they hold as soon as they hold it — accepts invitations without
/// signing in and signed in as bravo's admin, redeems reset codes for tokens in bravo and alpha —
/// and keeps what that yields. (So a generated sequence needs one step to obtain a code, not a
/// second, unlikely, step to use it.)
async fn exploit(w: &World, loot: &mut Loot, log: &mut Vec<String>) {
    while loot.played < loot.codes.len() {
        let code = loot.codes[loot.played].clone();
        loot.played += 1;
        let mut answers = Vec::new();
        if code.starts_with("coffer_i_") {
            for cred in [None, Some(w.badmin.as_str())] {
                let r = w.app.accept(cred, &code, None).await;
                answers.push(("accept", r.status, r.body));
            }
        } else {
            for org in ["bravo", "alpha"] {
                let r = reqwest::Client::new()
                    .post(format!("{}/api/v1/credentials/redeem", w.app.base))
                    .json(
                        &json!({"code": code, "password": "the attacker's passphrase", "org": org}),
                    )
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                answers.push(("redeem", status, r.json().await.unwrap_or(Value::Null)));
            }
        }
        for (what, status, body) in answers {
            log.push(format!(
                "  attacker plays a code: {what} -> {status} {body}"
            ));
            loot.collect(&body);
        }
    }
}

/// Runs one generated sequence against a fresh world; `Err` names the broken invariant and
/// every call made.
async fn run_sequence(backend: Backend, ops: &[Operation], steps: &[Step]) -> Result<(), String> {
    let w = World::start(backend).await;
    let mut loot = Loot::default();
    let mut log = Vec::new();
    for step in steps {
        let op = &ops[step.op % ops.len()];
        let (path, body) = request(op, step, &loot);
        // bravo's admin most of the time, sometimes nobody, else whatever was picked up.
        let mut creds = vec![w.badmin.clone(), w.badmin.clone(), String::new()];
        creds.extend(loot.tokens.iter().cloned());
        let cred = creds[step.credential % creds.len()].clone();
        let r = w.call(&cred, op.method.clone(), &path, body.clone()).await;
        log.push(format!(
            "{} {path} {} (credential #{}) -> {} {}",
            op.method,
            body.map_or(String::new(), |b| b.to_string()),
            step.credential % creds.len(),
            r.status,
            r.body
        ));
        if r.status.as_u16() >= 500 {
            return Err(format!("a server error\n{}", log.join("\n")));
        }
        loot.collect(&r.body);
        exploit(&w, &mut loot, &mut log).await;
        // No credential the attacker holds acts as the operator, in alpha, or as an owner.
        for t in &loot.tokens {
            if let Some(who) = w.whoami(t).await {
                let (org, role) = (who["org"].as_str(), who["role"].as_str());
                if who["operator"] == true || org == Some("alpha") || role == Some("owner") {
                    return Err(format!("the attacker holds {who}\n{}", log.join("\n")));
                }
            }
        }
        let check = std::panic::AssertUnwindSafe(w.assert_untouched("generated"));
        if let Err(e) = futures::FutureExt::catch_unwind(check).await {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "the world changed".into());
            return Err(format!("{why}\n{}", log.join("\n")));
        }
    }
    if std::env::var_os("COFFER_TENANCY_LOG").is_some() {
        eprintln!("--- sequence on {backend:?}\n{}", log.join("\n"));
    }
    Ok(())
}

#[test]
fn random_sequences_by_an_admin_never_reach_another_org_or_above_admin() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for backend in BACKENDS {
        let ops = rt.block_on(async { operations(&World::start(backend).await).await });
        let config = Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        };
        // A fixed seed: the same sequences every run, so a failure replays.
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[0xC0; 32]);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let step =
            (0..ops.len(), 0usize..8, any::<u64>()).prop_map(|(op, credential, seed)| Step {
                op,
                credential,
                seed,
            });
        let result = runner.run(&prop::collection::vec(step, 3..=6), |steps| {
            rt.block_on(run_sequence(backend, &ops, &steps))
                .map_err(proptest::test_runner::TestCaseError::fail)
        });
        if let Err(e) = result {
            panic!("{backend:?}: {e}");
        }
    }
}
