//! Who may do what, decided on one node, holds on every node within 1 s: a revoked token is
//! refused by the other node, a suspension (and a restore) written to the catalog is enforced
//! by both — no node serves from a stale cache past that bound. The 1 s bounds are correctness
//! bounds from the issue, measured from the moment the change was acknowledged. And nodes
//! starting together on an empty database create exactly one `default` org and one admin.

use crate::api::{Client, member_token, until};
use crate::cluster::{Cluster, Knobs};
use coffer_server::audit::AuditDraft;
use coffer_server::catalog::{CatalogSettings, open_catalog};
use coffer_server::domain::{OrgSlug, OrgStatus};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_node_is_refused_by_the_other_within_1s() {
    let c = Cluster::start(2, Knobs::default()).await;
    for (revoker, other) in [(0, 1), (1, 0)] {
        let (r, o) = (Client::of(c.node(revoker)), Client::of(c.node(other)));
        let user = format!("bob{revoker}");
        let (id, bob) = member_token(c.node(revoker), &c.token, &user, "member").await;
        for node in [&r, &o] {
            let me = node.call(&bob, Method::GET, "/api/v1/whoami", None).await;
            assert_eq!(me.status, 200, "the fresh token works everywhere: {me:?}");
        }
        let path = format!("/api/v1/orgs/default/tokens/{id}");
        let revoked = r.call(&c.token, Method::DELETE, &path, None).await;
        assert!(revoked.status < 300, "{revoked:?}");
        let acked = Instant::now();
        let (o, bob) = (&o, bob.as_str());
        let took = until(
            acked,
            "the other node refuses the revoked token",
            move || async move {
                o.call(bob, Method::GET, "/api/v1/whoami", None)
                    .await
                    .status
                    == 401
            },
        )
        .await;
        eprintln!("revoked on n{revoker}: n{other} refused it after {took:?}");
        assert!(
            took <= BOUND,
            "n{other} accepted a revoked token for {took:?}"
        );
        let me = r.call(bob, Method::GET, "/api/v1/whoami", None).await;
        assert_eq!(me.status, 401, "{me:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_restore_are_enforced_by_every_node_within_1s() {
    let c = Cluster::start(2, Knobs::default()).await;
    let t = c.token.clone();
    let nodes = [Client::of(c.node(0)), Client::of(c.node(1))];
    let put = nodes[0].put(&t, "OPS-5/key", "v", json!({})).await;
    assert_eq!(put.status, 201, "{put:?}");
    for n in &nodes {
        assert_eq!(n.reveal(&t, "OPS-5/key", None).await.status, 200, "warm");
    }
    // What a node's BYOK health probe does on revocation: write the status to the catalog.
    let settings = CatalogSettings::Postgres {
        url: c.db.url.clone(),
        pool_size: 1,
        connect_timeout: Duration::from_secs(5),
    };
    let catalog = open_catalog(&settings, &c.dir(), Default::default())
        .await
        .expect("catalog");
    let org = catalog
        .org_by_slug(&OrgSlug::parse("default").unwrap())
        .await
        .expect("org");
    let draft = |action| AuditDraft::new(org.id, None, "probe", action, "default", json!({}));
    for (status, reason, action, want) in [
        (
            OrgStatus::Suspended,
            Some("key revoked"),
            "org.suspend",
            423,
        ),
        (OrgStatus::Active, None, "org.restore", 200),
    ] {
        let reason = reason.map(str::to_owned);
        catalog
            .set_org_status(org.id, status, reason, draft(action))
            .await
            .expect("set_org_status");
        let acked = Instant::now();
        let mut slowest = Duration::ZERO;
        for (i, n) in nodes.iter().enumerate() {
            let what = format!("n{i} answers {want} after {action}");
            let t = t.as_str();
            let took = until(acked, &what, move || async move {
                n.reveal(t, "OPS-5/key", None).await.status == want
            })
            .await;
            slowest = slowest.max(took);
        }
        eprintln!("{action}: both nodes enforced it after {slowest:?}");
        assert!(
            slowest <= BOUND,
            "{action} took {slowest:?} to reach every node"
        );
        for n in &nodes {
            let r = n.put(&t, "OPS-5/key", "w", json!({})).await;
            assert_eq!(r.status, want, "writes follow the status too: {r:?}");
        }
    }
    let v = nodes[1]
        .call(&t, Method::GET, "/api/v1/orgs/default/audit/verify", None)
        .await;
    assert_eq!(v.body["ok"], true, "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_bootstrap_exactly_one_org_and_admin() {
    for round in 0..3 {
        // Cluster::start spawns both nodes before waiting for either, and asserts that exactly
        // one wrote the first owner's token.
        let c = Cluster::start(2, Knobs::default()).await;
        let winner = (0..2)
            .find(|&i| c.node(i).written_token("admin.token").is_some())
            .unwrap();
        let seated: Vec<_> = (0..2)
            .filter(|&i| c.node(i).written_token("operator.token").is_some())
            .collect();
        assert_eq!(
            seated.len(),
            1,
            "round {round}: one node seats the operator"
        );
        for (sql, want) in [
            ("SELECT count(*) FROM orgs", 1),
            ("SELECT count(*) FROM users WHERE kind = 'person'", 1),
            ("SELECT count(*) FROM users WHERE kind = 'operator'", 1),
            ("SELECT count(*) FROM memberships", 1),
            ("SELECT count(*) FROM tokens WHERE org_id IS NOT NULL", 1),
            ("SELECT count(*) FROM tokens WHERE org_id IS NULL", 1),
        ] {
            assert_eq!(c.db.count(sql).await, want, "round {round}: {sql}");
        }
        let events = c.db.count("SELECT count(*) FROM audit_events").await;
        assert_eq!(events, 3, "round {round}: one bootstrap's events");
        for i in 0..2 {
            let has_file = c.dir().join(format!("n{i}/admin.token")).exists();
            assert_eq!(
                has_file,
                i == winner,
                "round {round}: admin.token only on the winner"
            );
            let orgs = Client::of(c.node(i))
                .call(&c.token, Method::GET, "/api/v1/orgs", None)
                .await;
            let slugs: Vec<_> = orgs.body["orgs"].as_array().unwrap().iter().collect();
            assert_eq!(slugs.len(), 1, "round {round}: {orgs:?}");
            assert_eq!(slugs[0]["slug"], "default");
        }
        eprintln!("round {round}: n{winner} bootstrapped, the other joined");
    }
}
