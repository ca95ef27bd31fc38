//! `coffer org keys …` and `coffer admin byok` against a real `coffer serve` whose BYOK settings
//! point at a moto server (KMS, STS, IAM): the documented admin flow — setup, enable in one
//! command, show both regions healthy, revoke a key and see the org suspended, restore it — and
//! the refusals (BYOK off, BYOK not configured).

use crate::moto::{Moto, unique};
use crate::support::{self, Server};
use serde_json::{Value, json};

const REGIONS: [&str; 2] = ["eu-central-1", "eu-west-1"];

fn server_for(moto: &Moto) -> Server {
    Server::start_with_env(&[
        (
            "COFFER_BYOK__PRINCIPAL_ARN",
            "arn:aws:iam::123456789012:user/coffer",
        ),
        ("COFFER_BYOK__AWS__ENDPOINT", moto.endpoint()),
        ("COFFER_BYOK__AWS__CREDENTIALS__KIND", "static"),
        ("COFFER_BYOK__AWS__CREDENTIALS__ACCESS_KEY_ID", "test"),
        ("COFFER_BYOK__AWS__CREDENTIALS__SECRET_ACCESS_KEY", "test"),
        ("COFFER_KEYS__KEY_CACHE_TTL", "300ms"),
        ("COFFER_KEYS__PROBE_INTERVAL", "200ms"),
    ])
}

#[test]
fn the_byok_admin_flow_setup_enable_show_revoke_restore() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    let s = server_for(&moto);
    let alice = s.org_with_owner("acme", &["--location", "eu"], "alice");
    let as_alice = |args: &[&str]| support::run(s.cmd_with_token(alice.trim()).args(args), b"");

    let setup = as_alice(&["org", "keys", "setup", "acme"]).ok().stdout();
    for needle in [
        "external id:",
        "sts:ExternalId",
        "kms:EncryptionContext:coffer:org",
        "AWSTemplateFormatVersion",
    ] {
        assert!(setup.contains(needle), "{needle} missing from:\n{setup}");
    }
    let template = as_alice(&["org", "keys", "setup", "acme", "--print", "cloudformation"]).ok();
    let template: Value =
        serde_json::from_slice(&template.out.stdout).expect("the template is JSON");
    assert_eq!(template["Resources"]["CofferKey"]["Type"], "AWS::KMS::Key");

    let keys: Vec<String> = REGIONS
        .iter()
        .map(|r| {
            let out = rt.block_on(moto.kms(r, "CreateKey", json!({})));
            out["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
        })
        .collect();
    let role = rt.block_on(moto.create_role(&unique("acme-byok"), "{}"));
    let key_args: Vec<String> = REGIONS
        .iter()
        .zip(&keys)
        .map(|(r, k)| format!("{r}={k}"))
        .collect();
    let enabled = as_alice(&[
        "org",
        "keys",
        "byok",
        "acme",
        "--role-arn",
        &role,
        "--key",
        &key_args[0],
        "--key",
        &key_args[1],
    ])
    .ok();
    assert!(
        enabled.stdout().contains("provider:     aws-kms"),
        "{}",
        enabled.stdout()
    );
    assert!(
        enabled.stderr().contains("BYOK is enabled"),
        "{}",
        enabled.stderr()
    );

    let checked = as_alice(&["org", "keys", "check", "acme"]).ok().stdout();
    assert!(checked.contains("status:       active"), "{checked}");
    for r in REGIONS {
        assert!(
            checked
                .lines()
                .any(|l| l.starts_with(r) && l.contains(" enabled ")),
            "{r}:\n{checked}"
        );
    }
    support::run(
        s.cmd_with_token(alice.trim())
            .args(["--org", "acme", "secret", "put", "OPS-1", "db"]),
        b"s3cret",
    )
    .ok();

    let refused = as_alice(&["org", "keys", "local", "acme"]).expect_code(1);
    assert!(
        refused.stderr().contains("cannot be turned off")
            && refused.stderr().contains("byok_irreversible"),
        "{}",
        refused.stderr()
    );

    let all = s.run_as_operator(&["admin", "byok"]).ok().stdout();
    assert!(
        all.contains("acme") && all.contains(REGIONS[0]) && all.contains(REGIONS[1]),
        "{all}"
    );

    // Revoke: the background probe suspends the org; the CLI shows it and refuses secrets.
    let id = |k: &str| k.rsplit('/').next().unwrap().to_owned();
    rt.block_on(moto.kms(REGIONS[1], "DisableKey", json!({"KeyId": id(&keys[1])})));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let shown = as_alice(&["org", "keys", "show", "acme"]).ok().stdout();
    assert!(
        shown.contains("status:       suspended") && shown.contains("disabled (!)"),
        "{shown}"
    );
    let get = as_alice(&["--org", "acme", "secret", "get", "OPS-1", "db"]).expect_code(1);
    assert!(
        get.stderr().contains("org_suspended") && get.stderr().contains(REGIONS[1]),
        "{}",
        get.stderr()
    );

    rt.block_on(moto.kms(REGIONS[1], "EnableKey", json!({"KeyId": id(&keys[1])})));
    let back = as_alice(&["org", "keys", "check", "acme"]).ok().stdout();
    assert!(back.contains("status:       active"), "{back}");
    let value = as_alice(&["--org", "acme", "secret", "get", "OPS-1", "db"]).ok();
    assert_eq!(value.out.stdout, b"s3cret");
}

#[test]
fn without_byok_configured_setup_is_refused_and_local_is_a_no_op() {
    let s = Server::start();
    let shown = s.run(&["org", "keys", "show"]).ok().stdout();
    assert!(
        shown.contains("provider:     local") && shown.contains("external id:  coffer-"),
        "{shown}"
    );
    let local = s.run(&["org", "keys", "local"]).ok();
    assert!(
        local.stderr().contains("Coffer-managed keys"),
        "{}",
        local.stderr()
    );
    let setup = s.run(&["org", "keys", "setup"]).expect_code(1);
    assert!(
        setup.stderr().contains("byok_not_configured"),
        "{}",
        setup.stderr()
    );
    let admin = s.run_as_operator(&["admin", "byok"]).ok();
    assert!(
        admin.stderr().contains("no org uses BYOK"),
        "{}",
        admin.stderr()
    );
}
