//! `coffer org storage …` against a real `coffer serve` whose tenant buckets live on a moto
//! server: the seed's admin flow — print the setup, save the bucket and see the validation
//! sentence, store and reveal a secret whose ciphertext lives only in the bucket, move existing
//! secrets there with the server SIGKILLed midway, and see everything arrive.

use crate::moto::{Moto, unique};
use crate::support::{self, Server};

const REGION: &str = "eu-central-1";

fn env(moto: &Moto, rate: &'static str) -> Vec<(&'static str, String)> {
    vec![
        (
            "COFFER_BYOK__PRINCIPAL_ARN",
            "arn:aws:iam::123456789012:user/coffer".into(),
        ),
        ("COFFER_STORAGE__ALLOW_CUSTOM_ENDPOINTS", "true".into()),
        // A kill between copying an envelope and recording the copy leaves an orphan copy in
        // the bucket; the sweeper removes it once it is older than the grace period.
        ("COFFER_SWEEPER__INTERVAL", "300ms".into()),
        ("COFFER_SWEEPER__GRACE", "1s".into()),
        ("COFFER_STORAGE__MIGRATION_INTERVAL", "100ms".into()),
        ("COFFER_STORAGE__MIGRATION_RATE", rate.into()),
        ("COFFER_STORAGE__AWS__ENDPOINT", moto.endpoint().into()),
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

fn start(moto: &Moto, rate: &'static str, old: Option<Server>) -> Server {
    let vars = env(moto, rate);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match old {
        None => Server::start_with_env(&vars),
        Some(s) => s.kill_and_restart(&vars),
    }
}

async fn bucket_objects(moto: &Moto, bucket: &str) -> Vec<String> {
    let s3 = coffer_server::aws::s3_client(&moto.settings(REGION))
        .await
        .unwrap();
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[test]
fn an_admin_moves_an_org_into_its_bucket_with_the_server_killed_midway() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    let s = start(&moto, "25", None);
    let alice = s.org_with_owner("acme", &["--location", "eu"], "alice");
    let as_alice = |s: &Server, args: &[&str], stdin: &[u8]| {
        let mut all = vec!["--org", "acme"];
        all.extend_from_slice(args);
        support::run(s.cmd_with_token(&alice).args(&all), stdin)
    };
    for i in 0..40 {
        as_alice(
            &s,
            &["secret", "put", "OPS-9", &format!("k{i}")],
            format!("v{i}").as_bytes(),
        )
        .ok();
    }
    let bucket = unique("acme-vault");
    let setup = as_alice(&s, &["org", "storage", "setup", "--bucket", &bucket], b"")
        .ok()
        .stdout();
    for needle in [
        format!("arn:aws:s3:::{bucket}/*"),
        "s3:DeleteObject".into(),
        "aws s3api put-bucket-cors".into(),
        "LocationConstraint=eu-central-1".into(),
    ] {
        assert!(setup.contains(&needle), "{needle} missing from:\n{setup}");
    }
    // The admin creates the bucket (here straight through the S3 API).
    rt.block_on(async {
        let s3 = coffer_server::aws::s3_client(&moto.settings(REGION))
            .await
            .unwrap();
        s3.create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(REGION.into())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let wrong = as_alice(
        &s,
        &[
            "org",
            "storage",
            "set",
            "--bucket",
            &bucket,
            "--region",
            "us-east-1",
            "--endpoint",
            moto.endpoint(),
        ],
        b"",
    );
    let wrong = wrong.expect_code(1);
    assert!(
        wrong.stderr().contains("data-residency location `eu`"),
        "{}",
        wrong.stderr()
    );

    let saved = as_alice(
        &s,
        &[
            "org",
            "storage",
            "set",
            "--bucket",
            &bucket,
            "--region",
            REGION,
            "--endpoint",
            moto.endpoint(),
            "--no-wait",
        ],
        b"",
    )
    .ok();
    assert!(
        saved
            .stdout()
            .starts_with("Your custom S3 settings have been saved and validated.\n"),
        "{}",
        saved.stdout()
    );
    assert!(
        saved.stderr().contains("warning: no CORS rule"),
        "{}",
        saved.stderr()
    );

    // SIGKILL while envelopes are moving (25 per second), then a new process finishes the job.
    let mut moved = 0;
    for _ in 0..100 {
        let shown = as_alice(&s, &["org", "storage", "show", "--json"], b"").ok();
        let v: serde_json::Value = serde_json::from_str(&shown.stdout()).unwrap();
        moved = v["migration"]["done"].as_u64().unwrap();
        if moved >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!((5..40).contains(&moved), "killed midway, at {moved} of 40");
    let s = start(&moto, "0", Some(s));
    let shown = as_alice(&s, &["org", "storage", "show", "--watch"], b"")
        .ok()
        .stdout();
    assert!(
        shown.contains(&format!("storage:   s3://{bucket} ({REGION})")),
        "{shown}"
    );
    assert!(
        shown.contains("40 of 40 versions in place (idle)"),
        "{shown}"
    );
    assert!(
        shown.contains("health:    not checked yet") || shown.contains("health:    ok since"),
        "the bucket's health is shown: {shown}"
    );

    // Everything reads back, and the ciphertext lives only in the bucket.
    for i in [0, 17, 39] {
        let got = as_alice(&s, &["secret", "get", "OPS-9", &format!("k{i}")], b"").ok();
        assert_eq!(got.stdout(), format!("v{i}"));
    }
    as_alice(&s, &["secret", "put", "OPS-9", "after"], b"new-in-bucket").ok();
    let mut objects = rt.block_on(bucket_objects(&moto, &bucket));
    for _ in 0..100 {
        if objects.len() == 82 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        objects = rt.block_on(bucket_objects(&moto, &bucket));
    }
    assert_eq!(
        objects.len(),
        82,
        "one envelope and its manifest per version once orphans are swept: {objects:?}"
    );
    let envelopes: Vec<&String> = objects.iter().filter(|k| k.ends_with(".cfr")).collect();
    assert_eq!(envelopes.len(), 41, "{objects:?}");
    assert!(
        envelopes
            .iter()
            .all(|k| k.starts_with("orgs/") && objects.contains(&k.replace(".cfr", ".cfm"))),
        "every envelope has its manifest beside it: {objects:?}"
    );
    let mut local = Vec::new();
    let mut dirs = vec![s.scratch("coffer-data/blobs")];
    while let Some(d) = dirs.pop() {
        for p in std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()) {
            match p.is_dir() {
                true => dirs.push(p),
                false if p.extension().is_some_and(|e| e == "cfr") => local.push(p),
                false => {}
            }
        }
    }
    assert!(
        local.is_empty(),
        "no envelope left in the default store: {local:?}"
    );
}
