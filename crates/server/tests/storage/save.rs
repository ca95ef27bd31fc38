//! Saving an org's bucket: the seed's flow end to end, and each failing validation step.

use super::*;
use support::moto::xml_field;

fn body(bucket: &str, region: &str, moto: &Moto) -> Value {
    json!({"bucket": bucket, "region": region, "endpoint": moto.endpoint()})
}

#[tokio::test]
async fn a_validated_bucket_gets_the_seed_sentence_and_holds_only_envelopes() {
    let moto = Moto::shared();
    let (app, owner) = env(moto, moto.settings("eu-central-1")).await;
    let bucket = bucket_in(moto, &moto.settings("eu-central-1"), "eu-central-1").await;

    // The setup documents name this bucket and Coffer's principal.
    let r = app
        .call(
            &owner,
            Method::GET,
            &format!("/api/v1/orgs/acme/storage/setup?bucket={bucket}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["bucket_policy"]["Statement"][0]["Resource"],
        format!("arn:aws:s3:::{bucket}/*")
    );
    assert_eq!(
        r.body["bucket_policy"]["Statement"][0]["Principal"]["AWS"],
        PRINCIPAL
    );
    assert_eq!(
        r.body["cors_configuration"]["CORSRules"][0]["AllowedOrigins"][0],
        "https://coffer.example.com"
    );
    assert_eq!(
        r.body["allowed_regions"],
        json!(["eu-central-1", "eu-west-1"])
    );

    let r = save(&app, &owner, body(&bucket, "eu-central-1", moto)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["message"],
        "Your custom S3 settings have been saved and validated."
    );
    let steps: Vec<&str> = r.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "ok")
        .map(|c| c["step"].as_str().unwrap())
        .collect();
    for step in [
        "residency",
        "bucket_exists",
        "region",
        "put",
        "get",
        "compare",
        "delete",
        "confirm_gone",
    ] {
        assert!(steps.contains(&step), "{step} not ok in {}", r.body);
    }
    let warnings = r.body["warnings"].to_string();
    assert!(
        warnings.contains("CORS"),
        "a new bucket has no CORS rule: {warnings}"
    );
    assert!(warnings.contains("public access"), "{warnings}");
    assert_eq!(r.body["storage"]["kind"], "custom");
    assert_eq!(r.body["storage"]["bucket"], bucket.as_str());
    assert!(
        objects(moto, &bucket).await.is_empty(),
        "the probe object is gone"
    );

    // New secrets live only in the bucket, as envelopes under ids, each with its sealed
    // manifest beside it (names in the bucket only as ciphertext).
    let r = app
        .put_secret_as(
            &owner,
            "acme",
            "OPS-7",
            "db-password",
            b"hunter2-in-s3",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let stored = objects(moto, &bucket).await;
    assert_eq!(stored.len(), 2, "an envelope and its manifest");
    assert_eq!(
        stored.iter().filter(|(k, _)| k.ends_with(".cfr")).count(),
        1
    );
    assert_eq!(
        stored.iter().filter(|(k, _)| k.ends_with(".cfm")).count(),
        1
    );
    for (key, bytes) in &stored {
        assert!(key.starts_with("orgs/"), "{key}");
        assert!(
            !key.contains("OPS") && !key.contains("db-password"),
            "{key}"
        );
        assert!(
            coffer_envelope::parse(bytes, 1 << 21).is_ok(),
            "{key} is an envelope"
        );
        assert!(!bytes.windows(13).any(|w| w == b"hunter2-in-s3"));
        assert!(!bytes.windows(11).any(|w| w == b"db-password"));
    }
    let r = app.reveal_as(&owner, "acme", "OPS-7", "db-password").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        B64.decode(r.body["value"].as_str().unwrap()).unwrap(),
        b"hunter2-in-s3"
    );
    let s = wait_migrated(&app, &owner).await;
    assert_eq!(
        (
            s["migration"]["total"].as_u64(),
            s["migration"]["done"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn failed_validations_name_their_step_and_change_nothing() {
    let moto = Moto::shared();
    let (app, owner) = env(moto, moto.settings("eu-central-1")).await;
    let in_west = bucket_in(moto, &moto.settings("eu-west-1"), "eu-west-1").await;
    let in_us = bucket_in(moto, &moto.settings("us-east-1"), "us-east-1").await;
    let cases = [
        (
            body("no-such-bucket-coffer", "eu-central-1", moto),
            400,
            "storage_bucket_missing",
            "does not exist",
        ),
        (
            body(&in_west, "eu-central-1", moto),
            400,
            "storage_wrong_region",
            "save again with region eu-west-1",
        ),
        (
            body(&in_us, "us-east-1", moto),
            400,
            "storage_residency",
            "outside the org's data-residency location `eu`",
        ),
        (
            body(&in_us, "eu-central-1", moto),
            400,
            "storage_residency",
            "us-east-1",
        ),
        (
            json!({"bucket": in_west, "region": "eu-west-1", "endpoint": "http://169.254.169.254"}),
            400,
            "storage_endpoint",
            "link-local",
        ),
        (
            json!({"bucket": "Bad_Bucket", "region": "eu-west-1"}),
            400,
            "invalid_input",
            "bucket name",
        ),
    ];
    for (req, status, code, says) in cases {
        let r = save(&app, &owner, req.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{req}: {}",
            r.body
        );
        assert!(r.message().contains(says), "{req}: {}", r.message());
        assert_eq!(
            storage(&app, &owner).await["kind"],
            "default",
            "{req} changed nothing"
        );
    }
    let r = app
        .call(
            &owner,
            Method::GET,
            "/api/v1/orgs/acme/audit?action=storage.set",
            None,
        )
        .await;
    assert_eq!(r.body["events"].as_array().map(Vec::len), Some(0));
}

/// moto's auth mode enforces IAM policies: Coffer's user may do anything in S3 except delete.
#[tokio::test]
async fn a_bucket_that_refuses_deletes_fails_at_the_delete_step() {
    // Unauthenticated set-up requests: CreateUser, CreateAccessKey, PutUserPolicy, CreateBucket.
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "4")]);
    let user = "coffer-service";
    moto.iam(&[("Action", "CreateUser"), ("UserName", user)])
        .await;
    let key = moto
        .iam(&[("Action", "CreateAccessKey"), ("UserName", user)])
        .await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;
    moto.iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", user),
        ("PolicyName", "no-deletes"),
        ("PolicyDocument", policy),
    ])
    .await;
    let bucket = bucket_in(&moto, &moto.settings("eu-central-1"), "eu-central-1").await;
    let aws = AwsSettings {
        credentials: coffer_server::aws::AwsCredentials::Static {
            access_key_id: xml_field(&key, "AccessKeyId"),
            secret_access_key: coffer_server::aws::SecretString::new(xml_field(
                &key,
                "SecretAccessKey",
            )),
            session_token: None,
        },
        ..moto.settings("eu-central-1")
    };
    let (app, owner) = env(&moto, aws).await;
    let r = save(&app, &owner, body(&bucket, "eu-central-1", &moto)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "storage_probe_failed"),
        "{}",
        r.body
    );
    assert!(r.message().contains("step `delete`"), "{}", r.message());
    assert!(
        r.message().contains(&format!(
            "must allow s3:DeleteObject on arn:aws:s3:::{bucket}/*"
        )),
        "{}",
        r.message()
    );
    assert_eq!(storage(&app, &owner).await["kind"], "default");
}

/// Validation is no network scanner: an endpoint that refuses connections, or a metadata
/// address in any of its spellings, answers a sentence that names the step and nothing the
/// network said.
#[tokio::test]
async fn unreachable_endpoints_answer_without_the_networks_words() {
    let moto = Moto::shared();
    let (app, owner) = env(moto, moto.settings("eu-central-1")).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = save(
        &app,
        &owner,
        json!({"bucket": "acme-closed", "region": "eu-central-1", "endpoint": format!("http://127.0.0.1:{port}")}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    let message = r.message();
    assert!(
        message.contains("`bucket_exists` could not reach the endpoint"),
        "{message}"
    );
    for leak in ["refused", "os error", "dispatch", "connect", "tcp"] {
        assert!(
            !message.to_lowercase().contains(leak),
            "{leak} in {message}"
        );
    }
    for metadata in [
        "http://100.100.100.200",
        "http://[fd00:ec2::23]",
        "http://[fd00:ec2::254]",
    ] {
        let r = save(
            &app,
            &owner,
            json!({"bucket": "acme-meta", "region": "eu-central-1", "endpoint": metadata}),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "storage_endpoint"),
            "{metadata}: {}",
            r.body
        );
    }
    assert_eq!(
        storage(&app, &owner).await["kind"],
        "default",
        "nothing was saved"
    );
}
