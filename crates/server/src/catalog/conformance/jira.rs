//! The [`JiraCatalog`](crate::catalog::JiraCatalog) conformance suite: one site per org whose
//! generation goes up with every change, a new site forgetting what belonged to the old one,
//! one-time pending consents, account links that only ever name members (and go with their
//! membership or credentials), compare-and-set token refreshes, issue ids kept only for a linked
//! org, and the lifecycle writes — burying secrets with tombstones due after the site's retention
//! and destroyed (unless restored) when they end, and moving an issue's secrets and grants to its
//! new key — each exactly once.

use super::byok::{count, event, org};
use super::identity::person;
use super::version;
use crate::audit::AuditDraft;
use crate::blob::BlobKey;
use crate::catalog::{
    AuditFilter, Catalog, CatalogError, ForgeLink, GrantRecord, JiraAccount, JiraKind, JiraPending,
    JiraSite, PrincipalId, ResetRecord, SealedValue, StoredBlob,
};
use crate::domain::{
    AccessLevel, GrantId, GrantScope, IssueKey, OrgId, OrgSlug, ResetId, Role, Scope, SecretId,
    SecretName, Timestamp, UserId, UserName,
};
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

fn sealed(byte: u8) -> SealedValue {
    SealedValue {
        id: SecretId::new(),
        key_version: 1,
        envelope: vec![byte; 48],
    }
}

fn site(org: OrgId, url: &str) -> JiraSite {
    JiraSite {
        org,
        kind: JiraKind::Cloud,
        site_url: url.into(),
        cloud_id: Some("11111111-2222-3333-4444-555555555555".into()),
        client_id: "coffer-app".into(),
        client_secret: sealed(1),
        webhook_secret: sealed(2),
        expose_names: false,
        retention_days: 30,
        // Not stored: the catalog counts the generation itself.
        generation: 99,
        updated_at: Timestamp::now(),
        updated_by: "tester".into(),
    }
}

/// What `s` reads back as once stored with generation `generation`.
fn stored(s: &JiraSite, generation: u64) -> Option<JiraSite> {
    Some(JiraSite {
        generation,
        ..s.clone()
    })
}

fn account(org: OrgId, user: UserId, account_id: &str) -> JiraAccount {
    let now = Timestamp::now();
    JiraAccount {
        org,
        user,
        account_id: account_id.into(),
        display_name: format!("Jira {account_id}"),
        tokens: sealed(3),
        linked_at: now,
        refreshed_at: now,
    }
}

fn pending(org: OrgId, user: UserId, byte: u8, expires_at: Timestamp) -> JiraPending {
    JiraPending {
        hash: [byte; 32],
        org,
        user,
        verifier: format!("verifier-{byte}"),
        browser: [byte ^ 0xff; 32],
        expires_at,
    }
}

fn days_before(t: Timestamp, days: i64) -> Timestamp {
    Timestamp::from_millis(t.millis() - days * DAY_MS)
}

fn issue(s: &str) -> IssueKey {
    IssueKey::parse(s).unwrap()
}

/// An event about `target`.
fn about(org: OrgId, action: &'static str, target: &str) -> AuditDraft {
    AuditDraft::new(org, None, "tester", action, target, serde_json::json!({}))
}

/// Every event of the org.
async fn events(c: &dyn Catalog, org: OrgId) -> usize {
    let filter = AuditFilter {
        limit: 10_000,
        ..Default::default()
    };
    c.audit_events(org, &filter).await.unwrap().len()
}

/// The targets of the org's events of `action`, in order.
async fn targets(c: &dyn Catalog, org: OrgId, action: &str) -> Vec<String> {
    let filter = AuditFilter {
        limit: 1000,
        action: Some(action.into()),
        ..Default::default()
    };
    let list = c.audit_events(org, &filter).await.unwrap();
    list.into_iter().map(|e| e.target).collect()
}

async fn secret_at(c: &dyn Catalog, org: OrgId, scope: &str, name: &str) -> Option<SecretId> {
    let scope = Scope::parse(scope).unwrap();
    let name = SecretName::parse(name).unwrap();
    match c.secret(org, &scope, &name).await {
        Ok(s) => Some(s.id),
        Err(CatalogError::NotFound) => None,
        Err(e) => panic!("{e:?}"),
    }
}

async fn new_secret(c: &dyn Catalog, org: OrgId, scope: &str, name: &str) -> SecretId {
    let id = SecretId::new();
    c.put_version(version(org, id, scope, name, 1), event(org, "secret.write"))
        .await
        .unwrap();
    id
}

/// Runs every check; creates its own orgs and people.
pub async fn run_all(c: &dyn Catalog) {
    sites(c).await;
    pending_rows_are_one_time(c).await;
    accounts(c).await;
    refreshes_are_compare_and_set(c).await;
    links_go_with_membership_and_credentials(c).await;
    refs(c).await;
    burying_and_tombstones(c).await;
    rekeying(c).await;
    forge_links(c).await;
}

async fn sites(c: &dyn Catalog) {
    let o = org(c, "jira-site").await;
    let (m, _) = person(c, o, "jira-sue", Role::Member, 0x70).await;
    let sue = m.user.id;
    assert_eq!(c.jira_site(o).await.unwrap(), None);
    assert_eq!(c.bump_jira_generation(o).await.unwrap(), None, "no site");
    assert!(
        !c.delete_jira_site(o, event(o, "jira.unlink"))
            .await
            .unwrap()
    );
    assert_eq!(
        count(c, o, "jira.unlink").await,
        0,
        "nothing to unlink, nothing written"
    );
    assert_eq!(
        c.put_jira_site(
            site(OrgId::new(), "https://x.atlassian.net"),
            event(o, "jira.link")
        )
        .await,
        Err(CatalogError::NotFound)
    );

    // A reveal's target carries the link, and sees it change at once (a cached target too).
    let slug = OrgSlug::parse("jira-site").unwrap();
    let (scope, name) = (
        Scope::parse("OPS-1").unwrap(),
        SecretName::parse("x").unwrap(),
    );
    let link_of_target = async || {
        c.reveal_target(&slug, &scope, &name, None)
            .await
            .unwrap()
            .jira
    };
    assert_eq!(link_of_target().await, None);

    let first = site(o, "https://acme.atlassian.net");
    c.put_jira_site(first.clone(), event(o, "jira.link"))
        .await
        .unwrap();
    assert_eq!(c.jira_site(o).await.unwrap(), stored(&first, 1));
    assert_eq!(link_of_target().await, stored(&first, 1));
    assert_eq!(count(c, o, "jira.link").await, 1);

    // What belongs to the site: an account link, a pending consent, issue ids.
    let later = Timestamp::now().plus(Duration::from_secs(600));
    let fill = async |byte: u8| {
        c.put_jira_account(account(o, sue, "acc-sue"), None)
            .await
            .unwrap();
        c.put_jira_pending(pending(o, sue, byte, later), Timestamp::now())
            .await
            .unwrap();
        c.put_jira_refs(o, &[("OPS-1".into(), "10001".into())])
            .await
            .unwrap();
    };
    let kept = async |byte: u8| {
        c.jira_account(o, sue).await.unwrap().is_some()
            && c.count_jira_accounts(o).await.unwrap() == 1
            && c.take_jira_pending(&[byte; 32], Timestamp::now())
                .await
                .unwrap()
                .is_some()
            && !c.jira_refs(o, &["OPS-1".into()]).await.unwrap().is_empty()
    };
    let forgotten = async |byte: u8| {
        c.jira_account(o, sue).await.unwrap().is_none()
            && c.count_jira_accounts(o).await.unwrap() == 0
            && c.take_jira_pending(&[byte; 32], Timestamp::now())
                .await
                .unwrap()
                .is_none()
            && c.jira_refs(o, &["OPS-1".into()]).await.unwrap().is_empty()
    };

    // The same site again (other settings, new credentials) keeps them.
    fill(0x80).await;
    let same = JiraSite {
        expose_names: true,
        retention_days: 7,
        client_id: "coffer-app-2".into(),
        client_secret: sealed(4),
        webhook_secret: sealed(5),
        ..first.clone()
    };
    c.put_jira_site(same.clone(), event(o, "jira.link"))
        .await
        .unwrap();
    assert_eq!(c.jira_site(o).await.unwrap(), stored(&same, 2));
    assert!(kept(0x80).await, "the same site keeps what belongs to it");

    // A lifecycle event bumps the generation by one, nothing else.
    assert_eq!(c.bump_jira_generation(o).await.unwrap(), Some(3));
    assert_eq!(c.jira_site(o).await.unwrap(), stored(&same, 3));

    // Another site URL forgets them; so does another kind on the same URL.
    fill(0x81).await;
    let moved = site(o, "https://acme-new.atlassian.net");
    c.put_jira_site(moved.clone(), event(o, "jira.link"))
        .await
        .unwrap();
    assert_eq!(c.jira_site(o).await.unwrap(), stored(&moved, 4));
    assert!(
        forgotten(0x81).await,
        "a new site URL forgets the old site's state"
    );
    fill(0x82).await;
    let dc = JiraSite {
        kind: JiraKind::DataCenter,
        cloud_id: None,
        ..moved.clone()
    };
    c.put_jira_site(dc.clone(), event(o, "jira.link"))
        .await
        .unwrap();
    assert_eq!(c.jira_site(o).await.unwrap(), stored(&dc, 5));
    assert!(forgotten(0x82).await, "another kind of site forgets too");
    assert_eq!(count(c, o, "jira.link").await, 4);

    // Unlinking forgets the site and its state, once.
    fill(0x83).await;
    assert!(
        c.delete_jira_site(o, event(o, "jira.unlink"))
            .await
            .unwrap()
    );
    assert_eq!(c.jira_site(o).await.unwrap(), None);
    assert_eq!(link_of_target().await, None);
    assert!(forgotten(0x83).await, "unlinking forgets the site's state");
    assert_eq!(count(c, o, "jira.unlink").await, 1);
    assert!(
        !c.delete_jira_site(o, event(o, "jira.unlink"))
            .await
            .unwrap()
    );
    assert_eq!(
        count(c, o, "jira.unlink").await,
        1,
        "the second unlink writes nothing"
    );
    assert_eq!(c.bump_jira_generation(o).await.unwrap(), None);
    assert_eq!(
        c.delete_jira_site(OrgId::new(), event(o, "jira.unlink"))
            .await,
        Ok(false)
    );
}

async fn pending_rows_are_one_time(c: &dyn Catalog) {
    let o = org(c, "jira-pend").await;
    let (m, _) = person(c, o, "jira-pat", Role::Member, 0x71).await;
    let pat = m.user.id;
    let now = Timestamp::now();
    let in_10_min = now.plus(Duration::from_secs(600));

    let p = pending(o, pat, 0x90, in_10_min);
    c.put_jira_pending(p.clone(), now).await.unwrap();
    assert_eq!(
        c.take_jira_pending(&p.hash, now).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        c.take_jira_pending(&p.hash, now).await.unwrap(),
        None,
        "one-time"
    );
    assert_eq!(c.take_jira_pending(&[0x9f; 32], now).await.unwrap(), None);

    // An expired row is never handed out, and is gone afterwards.
    let old = pending(o, pat, 0x91, now.plus(Duration::from_secs(1)));
    c.put_jira_pending(old.clone(), now).await.unwrap();
    let later = now.plus(Duration::from_secs(5));
    assert_eq!(c.take_jira_pending(&old.hash, later).await.unwrap(), None);
    assert_eq!(c.take_jira_pending(&old.hash, now).await.unwrap(), None);

    // It has not expired at its expiry instant (it is refused after it).
    let edge = pending(o, pat, 0x92, now);
    c.put_jira_pending(edge.clone(), now).await.unwrap();
    assert_eq!(
        c.take_jira_pending(&edge.hash, now).await.unwrap(),
        Some(edge)
    );

    // Storing a row sweeps the expired ones.
    let stale = pending(o, pat, 0x93, now.plus(Duration::from_secs(1)));
    c.put_jira_pending(stale.clone(), now).await.unwrap();
    c.put_jira_pending(
        pending(o, pat, 0x94, later.plus(Duration::from_secs(600))),
        later,
    )
    .await
    .unwrap();
    assert_eq!(c.take_jira_pending(&stale.hash, now).await.unwrap(), None);

    // Of two racing callers exactly one gets it.
    let raced = pending(o, pat, 0x95, in_10_min);
    c.put_jira_pending(raced.clone(), now).await.unwrap();
    let (x, y) = futures::join!(
        c.take_jira_pending(&raced.hash, now),
        c.take_jira_pending(&raced.hash, now)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(
        [&x, &y].iter().filter(|r| r.is_some()).count(),
        1,
        "{x:?} {y:?}"
    );
    assert_eq!(x.or(y), Some(raced));
}

async fn accounts(c: &dyn Catalog) {
    let o = org(c, "jira-acct").await;
    let other = org(c, "jira-acct-b").await;
    let (alice, _) = person(c, o, "jira-alice", Role::Member, 0x72).await;
    let (bob, _) = person(c, o, "jira-bob", Role::Member, 0x73).await;
    let (carol, _) = person(c, other, "jira-carol", Role::Member, 0x74).await;
    let (alice, bob, carol) = (alice.user.id, bob.user.id, carol.user.id);
    let robot = crate::catalog::UserRecord::service(
        o,
        UserName::parse("jira-robot").unwrap(),
        Timestamp::now(),
    );
    c.create_service_account(robot.clone(), Role::Member, event(o, "service.create"))
        .await
        .unwrap();
    let refused = |r: Result<(), CatalogError>| matches!(r, Err(CatalogError::Refused(_)));

    // No site, no link.
    assert!(refused(
        c.put_jira_account(
            account(o, alice, "acc-alice"),
            Some(event(o, "jira.account_link"))
        )
        .await
    ));
    assert!(refused(
        c.put_jira_account(account(OrgId::new(), alice, "acc-alice"), None)
            .await
    ));
    c.put_jira_site(site(o, "https://acct.atlassian.net"), event(o, "jira.link"))
        .await
        .unwrap();
    c.put_jira_site(
        site(other, "https://acct.atlassian.net"),
        event(other, "jira.link"),
    )
    .await
    .unwrap();
    assert_eq!(count(c, o, "jira.account_link").await, 0);

    // A member links; a link is audited when asked, a replacement (refresh) is not.
    let first = account(o, alice, "acc-alice");
    c.put_jira_account(first.clone(), Some(event(o, "jira.account_link")))
        .await
        .unwrap();
    assert_eq!(c.jira_account(o, alice).await.unwrap(), Some(first.clone()));
    assert_eq!(c.jira_account(other, alice).await.unwrap(), None);
    assert_eq!(c.count_jira_accounts(o).await.unwrap(), 1);
    assert_eq!(count(c, o, "jira.account_link").await, 1);
    let before = events(c, o).await;
    let again = JiraAccount {
        display_name: "Alice A.".into(),
        tokens: sealed(6),
        ..account(o, alice, "acc-alice")
    };
    c.put_jira_account(again.clone(), None).await.unwrap();
    assert_eq!(c.jira_account(o, alice).await.unwrap(), Some(again));
    assert_eq!(
        events(c, o).await,
        before,
        "no audit event when none is given"
    );
    // Linking another Jira account replaces theirs.
    let switched = account(o, alice, "acc-alice-2");
    c.put_jira_account(switched.clone(), Some(event(o, "jira.account_link")))
        .await
        .unwrap();
    assert_eq!(c.jira_account(o, alice).await.unwrap(), Some(switched));
    assert_eq!(c.count_jira_accounts(o).await.unwrap(), 1);

    // One member per Jira account in an org; the same account in another org is another link.
    assert_eq!(
        c.put_jira_account(
            account(o, bob, "acc-alice-2"),
            Some(event(o, "jira.account_link"))
        )
        .await,
        Err(CatalogError::AlreadyExists)
    );
    assert_eq!(c.jira_account(o, bob).await.unwrap(), None);
    c.put_jira_account(
        account(o, bob, "acc-bob"),
        Some(event(o, "jira.account_link")),
    )
    .await
    .unwrap();
    assert_eq!(c.count_jira_accounts(o).await.unwrap(), 2);
    c.put_jira_account(account(other, carol, "acc-alice-2"), None)
        .await
        .unwrap();
    assert_eq!(c.count_jira_accounts(other).await.unwrap(), 1);
    // The account Alice left is free again.
    c.put_jira_account(account(o, alice, "acc-alice"), None)
        .await
        .unwrap();
    c.put_jira_account(account(o, bob, "acc-alice-2"), None)
        .await
        .unwrap();
    assert_eq!(
        c.jira_account(o, bob).await.unwrap().map(|a| a.account_id),
        Some("acc-alice-2".into())
    );
    assert_eq!(count(c, o, "jira.account_link").await, 3);

    // Only people who are members of the org.
    assert!(refused(
        c.put_jira_account(
            account(o, carol, "acc-carol"),
            Some(event(o, "jira.account_link"))
        )
        .await
    ));
    assert!(refused(
        c.put_jira_account(account(o, robot.id, "acc-robot"), None)
            .await
    ));
    assert!(refused(
        c.put_jira_account(account(o, UserId::new(), "acc-nobody"), None)
            .await
    ));
    assert_eq!(c.count_jira_accounts(o).await.unwrap(), 2);
    assert_eq!(
        count(c, o, "jira.account_link").await,
        3,
        "refusals write nothing"
    );

    // Unlinking, once.
    assert!(
        c.delete_jira_account(o, alice, event(o, "jira.account_unlink"))
            .await
            .unwrap()
    );
    assert_eq!(c.jira_account(o, alice).await.unwrap(), None);
    assert!(
        !c.delete_jira_account(o, alice, event(o, "jira.account_unlink"))
            .await
            .unwrap()
    );
    assert_eq!(count(c, o, "jira.account_unlink").await, 1);
    assert_eq!(c.count_jira_accounts(o).await.unwrap(), 1);
    assert_eq!(c.count_jira_accounts(OrgId::new()).await.unwrap(), 0);
}

async fn refreshes_are_compare_and_set(c: &dyn Catalog) {
    let o = org(c, "jira-tok").await;
    let (m, _) = person(c, o, "jira-dan", Role::Member, 0x75).await;
    let dan = m.user.id;
    c.put_jira_site(site(o, "https://tok.atlassian.net"), event(o, "jira.link"))
        .await
        .unwrap();
    let linked = account(o, dan, "acc-dan");
    c.put_jira_account(linked.clone(), Some(event(o, "jira.account_link")))
        .await
        .unwrap();
    let before = events(c, o).await;
    let at = Timestamp::from_millis(linked.refreshed_at.millis() + 1000);

    // Not the stored tokens: nothing stored.
    assert!(
        !c.refresh_jira_tokens(o, dan, SecretId::new(), sealed(7), at)
            .await
            .unwrap()
    );
    assert_eq!(c.jira_account(o, dan).await.unwrap(), Some(linked.clone()));
    // Nobody's link: nothing stored.
    assert!(
        !c.refresh_jira_tokens(o, UserId::new(), linked.tokens.id, sealed(7), at)
            .await
            .unwrap()
    );

    // The stored tokens: replaced, with the time; the link itself is unchanged.
    let fresh = sealed(8);
    assert!(
        c.refresh_jira_tokens(o, dan, linked.tokens.id, fresh.clone(), at)
            .await
            .unwrap()
    );
    let now = c.jira_account(o, dan).await.unwrap();
    assert_eq!(
        now,
        Some(JiraAccount {
            tokens: fresh.clone(),
            refreshed_at: at,
            ..linked.clone()
        })
    );
    // The same expectation again is stale.
    assert!(
        !c.refresh_jira_tokens(o, dan, linked.tokens.id, sealed(9), at)
            .await
            .unwrap()
    );
    assert_eq!(c.jira_account(o, dan).await.unwrap(), now);

    // Two nodes refreshing at once: exactly one stores.
    let (ta, tb) = (sealed(10), sealed(11));
    let (x, y) = futures::join!(
        c.refresh_jira_tokens(o, dan, fresh.id, ta.clone(), at),
        c.refresh_jira_tokens(o, dan, fresh.id, tb.clone(), at)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x ^ y, "exactly one refresh stores: {x} {y}");
    let winner = if x { ta } else { tb };
    assert_eq!(
        c.jira_account(o, dan).await.unwrap().unwrap().tokens,
        winner
    );
    assert_eq!(events(c, o).await, before, "refreshes are not audited");
}

async fn links_go_with_membership_and_credentials(c: &dyn Catalog) {
    let o = org(c, "jira-leave").await;
    let o2 = org(c, "jira-leave-b").await;
    let (eve, _) = person(c, o, "jira-eve", Role::Member, 0x76).await;
    let (fay, _) = person(c, o, "jira-fay", Role::Member, 0x77).await;
    let (eve, fay) = (eve.user.id, fay.user.id);
    c.add_member(o2, eve, Role::Member, event(o2, "member.add"))
        .await
        .unwrap();
    for org in [o, o2] {
        c.put_jira_site(
            site(org, "https://leave.atlassian.net"),
            event(org, "jira.link"),
        )
        .await
        .unwrap();
        c.put_jira_account(account(org, eve, "acc-eve"), None)
            .await
            .unwrap();
    }
    c.put_jira_account(account(o, fay, "acc-fay"), None)
        .await
        .unwrap();

    // Leaving an org forgets the link there only.
    c.remove_member(o, eve, Timestamp::now(), event(o, "member.remove"))
        .await
        .unwrap();
    assert_eq!(c.jira_account(o, eve).await.unwrap(), None);
    assert!(c.jira_account(o2, eve).await.unwrap().is_some());
    assert!(c.jira_account(o, fay).await.unwrap().is_some());
    assert_eq!(c.count_jira_accounts(o).await.unwrap(), 1);
    // And a former member cannot link again.
    assert!(matches!(
        c.put_jira_account(account(o, eve, "acc-eve"), None).await,
        Err(CatalogError::Refused(_))
    ));

    // A credential reset forgets the person's links everywhere.
    c.put_jira_account(account(o2, eve, "acc-eve"), None)
        .await
        .unwrap();
    let now = Timestamp::now();
    let reset = ResetRecord {
        id: ResetId::new(),
        hash: [0x78; 32],
        user: eve,
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3600)),
        used_at: None,
    };
    c.reset_credentials(reset, vec![event(o2, "user.reset")])
        .await
        .unwrap();
    assert_eq!(c.jira_account(o2, eve).await.unwrap(), None);
    assert!(
        c.jira_account(o, fay).await.unwrap().is_some(),
        "others keep theirs"
    );
}

async fn refs(c: &dyn Catalog) {
    let o = org(c, "jira-refs").await;
    let other = org(c, "jira-refs-b").await;
    let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };
    let asked = keys(&["OPS-1", "OPS", "OPS-2"]);

    // Ignored without a site.
    c.put_jira_refs(o, &pairs(&[("OPS-1", "10001")]))
        .await
        .unwrap();
    assert!(c.jira_refs(o, &asked).await.unwrap().is_empty());

    c.put_jira_site(site(o, "https://refs.atlassian.net"), event(o, "jira.link"))
        .await
        .unwrap();
    c.put_jira_site(
        site(other, "https://refs.atlassian.net"),
        event(other, "jira.link"),
    )
    .await
    .unwrap();
    c.put_jira_refs(o, &pairs(&[("OPS-1", "10001"), ("OPS", "10000")]))
        .await
        .unwrap();
    assert_eq!(
        sorted(c.jira_refs(o, &asked).await.unwrap()),
        pairs(&[("OPS", "10000"), ("OPS-1", "10001")])
    );
    // Again for the same key: replaced; the others are kept.
    c.put_jira_refs(o, &pairs(&[("OPS-1", "10009"), ("OPS-2", "10002")]))
        .await
        .unwrap();
    assert_eq!(
        sorted(c.jira_refs(o, &asked).await.unwrap()),
        pairs(&[("OPS", "10000"), ("OPS-1", "10009"), ("OPS-2", "10002")])
    );
    assert_eq!(
        c.jira_refs(o, &keys(&["OPS-2"])).await.unwrap(),
        pairs(&[("OPS-2", "10002")])
    );
    assert!(c.jira_refs(o, &[]).await.unwrap().is_empty());
    c.put_jira_refs(o, &[]).await.unwrap();
    // Per org.
    assert!(c.jira_refs(other, &asked).await.unwrap().is_empty());
    assert!(c.jira_refs(OrgId::new(), &asked).await.unwrap().is_empty());
}

async fn burying_and_tombstones(c: &dyn Catalog) {
    let o = org(c, "jira-bury").await;
    let bare = org(c, "jira-bury-bare").await;
    let other = org(c, "jira-bury-b").await;
    let retention = 7;
    c.put_jira_site(
        JiraSite {
            retention_days: retention,
            ..site(o, "https://bury.atlassian.net")
        },
        event(o, "jira.link"),
    )
    .await
    .unwrap();
    let old = new_secret(c, o, "BUR-1", "old").await;
    let young = new_secret(c, o, "BUR-1", "young").await;
    let edge = new_secret(c, o, "BUR-1", "edge").await;
    let deleted = new_secret(c, o, "BUR-1", "deleted").await;
    c.set_deleted(deleted, Some(Timestamp::now()), event(o, "secret.delete"))
        .await
        .unwrap();
    let destroyed = new_secret(c, o, "BUR-1", "destroyed").await;
    c.destroy(destroyed, event(o, "secret.destroy"))
        .await
        .unwrap();
    let foreign = new_secret(c, other, "BUR-1", "old").await;
    let unknown = SecretId::new();
    let bury = |s: SecretId, name: &str| (s, about(o, "jira.bury", name));

    let now = Timestamp::now();
    let (at_old, at_young) = (
        days_before(now, i64::from(retention) + 1),
        days_before(now, i64::from(retention) - 1),
    );
    let at_edge = days_before(now, i64::from(retention));
    let buried = c
        .jira_bury(
            o,
            vec![
                bury(deleted, "deleted"),
                bury(old, "old"),
                bury(destroyed, "destroyed"),
                bury(foreign, "foreign"),
                bury(unknown, "unknown"),
            ],
            at_old,
        )
        .await
        .unwrap();
    assert_eq!(buried, [old], "only live secrets that are not deleted");
    assert_eq!(
        targets(c, o, "jira.bury").await,
        ["old"],
        "events only for those"
    );
    let deleted_at = async |org: OrgId, name: &str| {
        let scope = Scope::parse("BUR-1").unwrap();
        let name = SecretName::parse(name).unwrap();
        c.secret(org, &scope, &name).await.unwrap().deleted_at
    };
    assert_eq!(deleted_at(o, "old").await, Some(at_old));
    assert_eq!(
        deleted_at(other, "old").await,
        None,
        "another org's secret is untouched"
    );
    assert_ne!(
        deleted_at(o, "deleted").await,
        Some(at_old),
        "already deleted: untouched"
    );
    assert_eq!(
        c.jira_bury(o, vec![bury(old, "old")], at_young)
            .await
            .unwrap(),
        [],
        "repeated: nothing"
    );
    assert_eq!(deleted_at(o, "old").await, Some(at_old));
    let mut two = c
        .jira_bury(o, vec![bury(young, "young"), bury(edge, "edge")], at_young)
        .await
        .unwrap();
    two.sort();
    let mut expected = vec![young, edge];
    expected.sort();
    assert_eq!(two, expected);
    assert_eq!(targets(c, o, "jira.bury").await, ["old", "young", "edge"]);
    // `edge` lies exactly the retention in the past.
    assert_eq!(
        c.jira_bury(o, vec![bury(edge, "edge")], at_edge)
            .await
            .unwrap(),
        []
    );
    c.set_deleted(edge, None, event(o, "secret.restore"))
        .await
        .unwrap();
    // A restored secret's tombstone ends without destroying anything, and is forgotten.
    assert_eq!(
        c.jira_destroy_buried(edge, about(o, "jira.destroy", "edge"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        count(c, o, "jira.destroy").await,
        0,
        "nothing destroyed, nothing written"
    );
    assert_eq!(deleted_at(o, "edge").await, None, "still there, restored");
    let in_two_days = now.plus(Duration::from_secs(2 * 86_400));
    assert!(
        c.jira_due_tombstones(in_two_days, 10_000)
            .await
            .unwrap()
            .iter()
            .all(|t| t.secret != edge),
        "the tombstone is forgotten"
    );
    assert_eq!(
        c.jira_bury(o, vec![bury(edge, "edge")], at_edge)
            .await
            .unwrap(),
        [edge],
        "a restored secret can be buried again"
    );

    // An org without a site keeps the default 30 days.
    let b_old = new_secret(c, bare, "BUR-2", "old").await;
    let b_young = new_secret(c, bare, "BUR-2", "young").await;
    let bury_bare = |s: SecretId| (s, about(bare, "jira.bury", "x"));
    assert_eq!(
        c.jira_bury(bare, vec![bury_bare(b_old)], days_before(now, 31))
            .await
            .unwrap(),
        [b_old]
    );
    assert_eq!(
        c.jira_bury(bare, vec![bury_bare(b_young)], days_before(now, 29))
            .await
            .unwrap(),
        [b_young]
    );

    // Due: the site's retention has passed (at least), oldest first, at most `limit`.
    let due = async |now: Timestamp| {
        let all = c.jira_due_tombstones(now, 10_000).await.unwrap();
        assert!(
            all.windows(2).all(|w| w[0].deleted_at <= w[1].deleted_at),
            "oldest first: {all:?}"
        );
        all.into_iter()
            .filter(|t| t.org == o || t.org == bare)
            .map(|t| (t.secret, t.org, t.deleted_at))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        due(now).await,
        [
            (b_old, bare, days_before(now, 31)),
            (old, o, at_old),
            (edge, o, at_edge)
        ]
    );
    let all = c.jira_due_tombstones(now, 10_000).await.unwrap();
    assert_eq!(c.jira_due_tombstones(now, 2).await.unwrap(), all[..2]);
    assert!(
        c.jira_due_tombstones(days_before(now, 40), 10_000)
            .await
            .unwrap()
            .iter()
            .all(|t| t.org != o && t.org != bare),
        "nothing is due before its retention"
    );

    // Ending the tombstone of a secret that is still deleted destroys it, once.
    let ended = c
        .jira_destroy_buried(edge, about(o, "jira.destroy", "edge"))
        .await
        .unwrap();
    let blob = StoredBlob {
        storage: None,
        key: BlobKey::for_version(o, edge, 1),
    };
    assert_eq!(ended, Some(vec![blob.clone()]), "its blobs, to delete");
    assert_eq!(secret_at(c, o, "BUR-1", "edge").await, None, "destroyed");
    assert!(
        !c.blob_referenced(&blob).await.unwrap(),
        "its versions are forgotten"
    );
    assert_eq!(targets(c, o, "jira.destroy").await, ["edge"]);
    assert_eq!(
        c.jira_destroy_buried(edge, about(o, "jira.destroy", "edge"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        c.jira_destroy_buried(SecretId::new(), about(o, "jira.destroy", "unknown"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        targets(c, o, "jira.destroy").await,
        ["edge"],
        "written once"
    );
    // A secret destroyed meanwhile: nothing left to destroy, the tombstone ends.
    c.destroy(b_young, event(bare, "secret.destroy"))
        .await
        .unwrap();
    assert_eq!(
        c.jira_destroy_buried(b_young, about(bare, "jira.destroy", "young"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(count(c, bare, "jira.destroy").await, 0);
    assert_eq!(
        due(now).await,
        [(b_old, bare, days_before(now, 31)), (old, o, at_old)]
    );
    // Two nodes ending the same tombstone at once: exactly one destroys.
    let raced = new_secret(c, o, "BUR-1", "raced").await;
    assert_eq!(
        c.jira_bury(o, vec![bury(raced, "raced")], at_old)
            .await
            .unwrap(),
        [raced]
    );
    let (x, y) = futures::join!(
        c.jira_destroy_buried(raced, about(o, "jira.destroy", "raced")),
        c.jira_destroy_buried(raced, about(o, "jira.destroy", "raced"))
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(
        [&x, &y].iter().filter(|r| r.is_some()).count(),
        1,
        "{x:?} {y:?}"
    );
    assert_eq!(targets(c, o, "jira.destroy").await, ["edge", "raced"]);
    assert_eq!(
        due(now).await,
        [(b_old, bare, days_before(now, 31)), (old, o, at_old)]
    );

    // Unlinking keeps the tombstones, and their retention becomes the default 30 days.
    assert!(
        c.delete_jira_site(o, event(o, "jira.unlink"))
            .await
            .unwrap()
    );
    assert_eq!(due(now).await, [(b_old, bare, days_before(now, 31))]);
    let later = Timestamp::from_millis(at_young.millis() + 30 * DAY_MS);
    assert_eq!(
        due(later).await,
        [
            (b_old, bare, days_before(now, 31)),
            (old, o, at_old),
            (young, o, at_young)
        ]
    );
}

async fn rekeying(c: &dyn Catalog) {
    let o = org(c, "jira-rekey").await;
    let other = org(c, "jira-rekey-b").await;
    let (gil, _) = person(c, o, "jira-gil", Role::Member, 0x79).await;
    let (hal, _) = person(c, o, "jira-hal", Role::Member, 0x7a).await;
    let (gil, hal) = (gil.user.id, hal.user.id);
    let db = new_secret(c, o, "OPS-1", "db").await;
    let api = new_secret(c, o, "OPS-1", "api").await;
    let dup = new_secret(c, o, "OPS-1", "dup").await;
    let binned = new_secret(c, o, "OPS-1", "binned").await;
    c.set_deleted(binned, Some(Timestamp::now()), event(o, "secret.delete"))
        .await
        .unwrap();
    let burnt = new_secret(c, o, "OPS-1", "burnt").await;
    c.destroy(burnt, event(o, "secret.destroy")).await.unwrap();
    let taken = new_secret(c, o, "NEW-5", "dup").await;
    let project = new_secret(c, o, "OPS", "db").await;
    let sibling = new_secret(c, o, "OPS-10", "db").await;
    let foreign = new_secret(c, other, "OPS-1", "db").await;
    let grant = async |scope: &str, user: UserId| {
        let g = GrantRecord {
            id: GrantId::new(),
            org: o,
            scope: GrantScope::parse(scope).unwrap(),
            principal: PrincipalId::User(user),
            level: AccessLevel::Read,
            created_at: Timestamp::now(),
            created_by: "tester".into(),
        };
        c.put_grant(g, event(o, "grant.create")).await.unwrap().id
    };
    let gil_ops1 = grant("OPS-1", gil).await;
    let hal_ops1 = grant("OPS-1", hal).await;
    let hal_new5 = grant("NEW-5", hal).await;
    let gil_ops = grant("OPS", gil).await;
    let scope_of = async |id: GrantId| {
        let all = c.grants(o).await.unwrap();
        let g = all.into_iter().find(|g| g.id == id).expect("still there");
        g.scope.to_string()
    };

    let moved = c
        .jira_rekey(o, &issue("OPS-1"), &issue("NEW-5"), event(o, "jira.rekey"))
        .await
        .unwrap();
    assert_eq!(moved, 3, "db, api and the deleted one");
    assert_eq!(secret_at(c, o, "NEW-5", "db").await, Some(db));
    assert_eq!(secret_at(c, o, "NEW-5", "api").await, Some(api));
    assert_eq!(secret_at(c, o, "NEW-5", "binned").await, Some(binned));
    assert_eq!(secret_at(c, o, "OPS-1", "db").await, None);
    // A name already taken on the new key stays where it is.
    assert_eq!(secret_at(c, o, "OPS-1", "dup").await, Some(dup));
    assert_eq!(secret_at(c, o, "NEW-5", "dup").await, Some(taken));
    // Nothing else moves: the project, another issue, another org.
    assert_eq!(secret_at(c, o, "OPS", "db").await, Some(project));
    assert_eq!(secret_at(c, o, "OPS-10", "db").await, Some(sibling));
    assert_eq!(secret_at(c, other, "OPS-1", "db").await, Some(foreign));
    // Grants follow the issue unless the principal already has one on the new key.
    assert_eq!(scope_of(gil_ops1).await, "NEW-5");
    assert_eq!(scope_of(hal_ops1).await, "OPS-1");
    assert_eq!(scope_of(hal_new5).await, "NEW-5");
    assert_eq!(scope_of(gil_ops).await, "OPS");
    assert_eq!(count(c, o, "jira.rekey").await, 1);

    // Repeated: nothing moves, nothing is written.
    assert_eq!(
        c.jira_rekey(o, &issue("OPS-1"), &issue("NEW-5"), event(o, "jira.rekey"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(count(c, o, "jira.rekey").await, 1);
    assert_eq!(secret_at(c, o, "OPS-1", "dup").await, Some(dup));
    // An issue nobody used: nothing written.
    assert_eq!(
        c.jira_rekey(
            o,
            &issue("OPS-99"),
            &issue("NEW-99"),
            event(o, "jira.rekey")
        )
        .await
        .unwrap(),
        0
    );
    assert_eq!(count(c, o, "jira.rekey").await, 1);
    // Only a grant to move: it moves, and that is written.
    let gil_ops2 = grant("OPS-2", gil).await;
    assert_eq!(
        c.jira_rekey(o, &issue("OPS-2"), &issue("NEW-6"), event(o, "jira.rekey"))
            .await
            .unwrap(),
        0,
        "no secret moved"
    );
    assert_eq!(scope_of(gil_ops2).await, "NEW-6");
    assert_eq!(count(c, o, "jira.rekey").await, 2);
    // Another org's issue of the same key is its own.
    assert_eq!(
        c.jira_rekey(
            other,
            &issue("OPS-1"),
            &issue("NEW-5"),
            event(other, "jira.rekey")
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(secret_at(c, other, "NEW-5", "db").await, Some(foreign));
    assert_eq!(secret_at(c, o, "NEW-5", "db").await, Some(db));
}

fn forge(org: OrgId, installation: &str) -> ForgeLink {
    ForgeLink {
        org,
        app_id: "ari:cloud:ecosystem::app/0d7c2f4e-0000-4000-8000-000000000001".into(),
        installation_id: installation.into(),
        linked_at: Timestamp::from_millis(Timestamp::now().millis()),
        linked_by: "tester".into(),
    }
}

/// An org trusts one Forge installation, an installation one org; the link goes with the site.
async fn forge_links(c: &dyn Catalog) {
    let o = org(c, "jira-forge-a").await;
    let other = org(c, "jira-forge-b").await;
    let (m, _) = person(c, o, "jira-faye", Role::Member, 0x7b).await;
    let refused = |r: Result<(), CatalogError>| matches!(r, Err(CatalogError::Refused(_)));
    assert!(
        refused(
            c.put_forge_link(forge(o, "inst-1"), event(o, "jira.forge_link"))
                .await
        ),
        "no site, no Forge link"
    );
    for org in [o, other] {
        c.put_jira_site(
            site(org, "https://forge.atlassian.net"),
            event(org, "jira.link"),
        )
        .await
        .unwrap();
    }
    let before = events(c, o).await;
    let link = forge(o, "inst-1");
    c.put_forge_link(link.clone(), event(o, "jira.forge_link"))
        .await
        .unwrap();
    assert_eq!(events(c, o).await, before + 1);
    assert_eq!(c.forge_link(o).await.unwrap(), Some(link.clone()));
    assert_eq!(
        c.forge_link_by_installation("inst-1").await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(c.forge_link_by_installation("inst-2").await.unwrap(), None);
    assert_eq!(c.forge_link(other).await.unwrap(), None);
    // Another org cannot claim the installation; the owner may replace the org's own.
    assert!(matches!(
        c.put_forge_link(forge(other, "inst-1"), event(other, "jira.forge_link"))
            .await,
        Err(CatalogError::AlreadyExists)
    ));
    let replaced = forge(o, "inst-2");
    c.put_forge_link(replaced.clone(), event(o, "jira.forge_link"))
        .await
        .unwrap();
    assert_eq!(c.forge_link_by_installation("inst-1").await.unwrap(), None);
    assert_eq!(c.forge_link(o).await.unwrap(), Some(replaced));
    // Account ids find the member who linked them, in that org only.
    c.put_jira_account(account(o, m.user.id, "acc-fay"), None)
        .await
        .unwrap();
    assert_eq!(
        c.jira_account_by_id(o, "acc-fay")
            .await
            .unwrap()
            .map(|a| a.user),
        Some(m.user.id)
    );
    assert_eq!(c.jira_account_by_id(other, "acc-fay").await.unwrap(), None);
    assert_eq!(c.jira_account_by_id(o, "acc-nobody").await.unwrap(), None);
    // Delete: once, audited once.
    let before = events(c, o).await;
    assert!(
        c.delete_forge_link(o, event(o, "jira.forge_unlink"))
            .await
            .unwrap()
    );
    assert!(
        !c.delete_forge_link(o, event(o, "jira.forge_unlink"))
            .await
            .unwrap()
    );
    assert_eq!(events(c, o).await, before + 1);
    // A new site forgets it; so does unlinking the site.
    c.put_forge_link(forge(o, "inst-3"), event(o, "jira.forge_link"))
        .await
        .unwrap();
    c.put_jira_site(
        site(o, "https://elsewhere.atlassian.net"),
        event(o, "jira.link"),
    )
    .await
    .unwrap();
    assert_eq!(c.forge_link(o).await.unwrap(), None);
    c.put_forge_link(forge(o, "inst-3"), event(o, "jira.forge_link"))
        .await
        .unwrap();
    assert!(
        c.delete_jira_site(o, event(o, "jira.unlink"))
            .await
            .unwrap()
    );
    assert_eq!(c.forge_link_by_installation("inst-3").await.unwrap(), None);
}
