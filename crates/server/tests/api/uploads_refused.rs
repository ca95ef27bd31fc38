//! Client-side uploads that must not become versions: a byte flipped after sealing, a wrapped
//! key swapped in from another grant, a wrong SHA-256, a value that breaks its kind's rules, a
//! wrong size, and another org's upload id. Each is refused and leaves nothing behind.

use crate::helpers::*;
use crate::uploads::{commit, grant, seal, sha256_hex, upload};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn tampered_swapped_and_misdeclared_uploads_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    let t = app.token.clone();
    // A byte flipped after sealing (the hash matches the tampered bytes).
    let g = grant(&app, &t, "default", "OPS-2/a", json!({"size": 5})).await;
    let mut bytes = seal(&g, b"value", None);
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    assert!(upload(&app, &t, &g, bytes.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g, &sha256_hex(&bytes)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("integrity check"), "{}", r.message());
    // Refused for good: the grant is gone and so is the object.
    assert_eq!(
        commit(&app, &t, "default", &g, &sha256_hex(&bytes))
            .await
            .status,
        404
    );

    // Sealed with this grant's data key but another grant's wrapped key.
    let g1 = grant(&app, &t, "default", "OPS-2/b", json!({"size": 5})).await;
    let g2 = grant(&app, &t, "default", "OPS-2/c", json!({"size": 5})).await;
    let swapped = seal(&g1, b"value", Some(&g2));
    assert!(upload(&app, &t, &g1, swapped.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g1, &sha256_hex(&swapped)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("wrapped data key"), "{}", r.message());

    // An honest envelope committed with the wrong hash.
    let good = seal(&g2, b"value", None);
    assert!(upload(&app, &t, &g2, good.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g2, &sha256_hex(b"something else")).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("SHA-256"), "{}", r.message());
    let bad = commit(&app, &t, "default", &g2, "not hex").await;
    assert_eq!(
        (bad.status.as_u16(), bad.code()),
        (400, "invalid_input"),
        "{}",
        bad.body
    );
    let gone = commit(&app, &t, "default", &g2, &sha256_hex(&good)).await;
    assert_eq!(gone.status, 404, "the refused grant is gone: {}", gone.body);

    // Nothing became visible, and no object was left behind.
    let list = app.get("/api/v1/orgs/default/secrets").await;
    assert_eq!(list.body["secrets"], json!([]), "{}", list.body);
    let blobs = app.data_dir().join("blobs");
    let left = if blobs.exists() {
        files_under(&blobs)
    } else {
        vec![]
    };
    assert!(
        left.iter().all(|p| !p.to_string_lossy().ends_with(".cfr")),
        "{left:?}"
    );

    // The server opens the envelope and holds the value to its kind's rules.
    let g4 = grant(
        &app,
        &t,
        "default",
        "OPS-2/e",
        json!({"size": 2, "kind": "password"}),
    )
    .await;
    let binary = seal(&g4, &[0xff, 0xfe], None);
    assert!(upload(&app, &t, &g4, binary.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g4, &sha256_hex(&binary)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("UTF-8"), "{}", r.message());

    // Wrong size at upload; another org's upload id is not found.
    let g3 = grant(&app, &t, "default", "OPS-2/d", json!({"size": 5})).await;
    assert_eq!(upload(&app, &t, &g3, seal(&g3, b"valu", None)).await, 400);
    let other = app.org_with_owner("acme", "bob").await;
    let id = g3["id"].as_str().unwrap();
    for org in ["acme", "default"] {
        let r = app
            .call(
                &other,
                Method::PUT,
                &format!("/api/v1/orgs/{org}/uploads/{id}/envelope"),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{org}: {}", r.body);
        assert_eq!(
            commit(&app, &other, org, &g3, &sha256_hex(b"x"))
                .await
                .status,
            404
        );
    }
    // Nor is a grant usable by another member of the same org.
    let carol = app.member("carol", "owner").await;
    assert_eq!(
        commit(&app, &carol, "default", &g3, &sha256_hex(b"x"))
            .await
            .status,
        404
    );
    let ok = seal(&g3, b"value", None);
    assert_eq!(upload(&app, &carol, &g3, ok.clone()).await, 404);
    // The owner can still finish it.
    assert!(upload(&app, &t, &g3, ok.clone()).await.is_success());
    assert_eq!(
        commit(&app, &t, "default", &g3, &sha256_hex(&ok))
            .await
            .status,
        201
    );
    assert_eq!(app.reveal("OPS-2", "d").await, b"value");
}
