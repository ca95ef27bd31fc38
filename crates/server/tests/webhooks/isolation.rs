//! One org's trouble stays its own: a receiver that accepts connections and never answers gets at
//! most a couple of attempts in flight while another org's delivery arrives within a few passes;
//! a suspended org's deliveries are held (not attempted, not counted) and go out once it is
//! restored, `org.suspended` included; and a webhook row this Coffer cannot read is skipped
//! while every other webhook still gets its events.

use crate::{Backend, Receiver, World};
use coffer_server::audit::AuditDraft;
use coffer_server::domain::{OrgSlug, OrgStatus};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A receiver that accepts every connection and never answers; it holds the sockets open.
struct Hanging {
    url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Hanging {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Hanging {
            url,
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn a_hanging_receiver_holds_up_nobody_else(b: Backend) {
    // Long enough that waiting for one attempt to time out would blow the bound below.
    let timeout = Duration::from_secs(20);
    let w = World::start_with(b, move |c| c.webhooks.timeout = timeout).await;
    let dead = Hanging::start().await;
    let (dead_id, _) = w
        .webhook(&w.aowner, "alpha", &dead.url, &["secret.written"])
        .await;
    // Alpha's backlog is older than bravo's event: oldest-first alone would serve it first.
    for i in 0..24 {
        w.put(
            &w.aowner,
            "alpha",
            "OPS-1",
            &format!("k{i}"),
            b"v",
            json!({}),
        )
        .await;
    }
    w.deliveries_until(&w.aowner, "alpha", &dead_id, "alpha's backlog", |l| {
        l.len() == 24
    })
    .await;
    let rx = Receiver::start().await;
    w.webhook(&w.bowner, "bravo", &rx.url, &["secret.written"])
        .await;
    let start = Instant::now();
    w.put(&w.bowner, "bravo", "OPS-1", "db", b"v", json!({}))
        .await;
    rx.wait_for("secret.written", 1).await;
    let took = start.elapsed();
    // Passes run every 100 ms here; a few dozen of them, and far less than one attempt's deadline.
    assert!(
        took < Duration::from_secs(5),
        "bravo's delivery waited {took:?} behind alpha's hanging receiver"
    );
    assert!(
        dead.accepted() <= 2,
        "alpha's receiver got {} attempts at once (at most 2 per webhook)",
        dead.accepted()
    );
    // Later ones keep coming through too while alpha's attempts hang.
    w.put(&w.bowner, "bravo", "OPS-1", "db2", b"v", json!({}))
        .await;
    rx.wait_for("secret.written", 2).await;
    assert!(start.elapsed() < timeout, "{:?}", start.elapsed());
    assert!(dead.accepted() <= 2, "{}", dead.accepted());
}

/// Sets org `slug`'s status as the key probe would, with its audit event.
async fn set_status(w: &World, slug: &str, status: OrgStatus, action: &'static str) {
    let catalog = w.app.app.coffer().catalog();
    let org = catalog
        .org_by_slug(&OrgSlug::parse(slug).unwrap())
        .await
        .unwrap();
    let reason = (status == OrgStatus::Suspended).then(|| "its key refused access".to_owned());
    let audit = AuditDraft::new(org.id, None, "coffer", action, slug, json!({}));
    catalog
        .set_org_status(org.id, status, reason, audit)
        .await
        .unwrap();
}

async fn a_suspended_orgs_deliveries_wait_for_its_restore(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    let (id, secret) = w
        .webhook(
            &w.aowner,
            "alpha",
            &rx.url,
            &["org.suspended", "org.restored"],
        )
        .await;
    set_status(&w, "alpha", OrgStatus::Suspended, "org.suspend").await;
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "org.suspended enqueued", |l| {
            !l.is_empty()
        })
        .await;
    // Many passes (every 100 ms here): none attempts it, none counts an attempt.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rx.got().is_empty(), "sent while suspended: {:?}", rx.got());
    let held = w.deliveries(&w.aowner, "alpha", &id, false).await;
    assert_eq!(held.len(), 1, "{list:?}");
    assert_eq!(held[0]["event"], "org.suspended");
    assert_eq!(held[0]["state"], "pending");
    assert_eq!(held[0]["attempts"], 0, "an attempt was used up: {held:?}");
    assert!(held[0]["last_error"].is_null(), "{held:?}");
    let metric = "coffer_webhook_attempts_total";
    assert_eq!(w.app.metric(metric, &[("outcome", "retried")]).await, 0.0);

    set_status(&w, "alpha", OrgStatus::Active, "org.restore").await;
    let suspended = rx.wait_for("org.suspended", 1).await;
    let restored = rx.wait_for("org.restored", 1).await;
    assert!(suspended[0].signed_with(&secret) && restored[0].signed_with(&secret));
    assert_eq!(suspended[0].header("coffer-delivery-attempt"), "1");
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "both delivered", |l| {
            l.len() == 2 && l.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert!(list.iter().all(|d| d["attempts"] == 1), "{list:?}");
}

async fn an_unreadable_webhook_row_is_skipped_not_the_pass() {
    let w = World::start(Backend::Postgres).await;
    let rx_a = Receiver::start().await;
    let rx_b = Receiver::start().await;
    let (bad, _) = w
        .webhook(&w.aowner, "alpha", &rx_a.url, &["secret.written"])
        .await;
    w.webhook(&w.bowner, "bravo", &rx_b.url, &["secret.written"])
        .await;
    // What a newer Coffer sharing the database might have written.
    let db = w.db.as_ref().unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    sqlx::query("UPDATE webhooks SET events = 'secret.written,secret.teleported' WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&bad).unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
    w.put(&w.aowner, "alpha", "OPS-1", "db", b"v", json!({}))
        .await;
    w.put(&w.bowner, "bravo", "OPS-1", "db", b"v", json!({}))
        .await;
    rx_b.wait_for("secret.written", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx_a.got().is_empty(), "an unreadable webhook was sent to");
}

#[tokio::test]
async fn a_hanging_receiver_holds_up_nobody_else_sqlite() {
    a_hanging_receiver_holds_up_nobody_else(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_hanging_receiver_holds_up_nobody_else_postgres() {
    a_hanging_receiver_holds_up_nobody_else(Backend::Postgres).await;
}

#[tokio::test]
async fn a_suspended_orgs_deliveries_wait_for_its_restore_sqlite() {
    a_suspended_orgs_deliveries_wait_for_its_restore(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_suspended_orgs_deliveries_wait_for_its_restore_postgres() {
    a_suspended_orgs_deliveries_wait_for_its_restore(Backend::Postgres).await;
}

#[tokio::test]
async fn an_unreadable_webhook_row_is_skipped_not_the_pass_postgres() {
    an_unreadable_webhook_row_is_skipped_not_the_pass().await;
}
