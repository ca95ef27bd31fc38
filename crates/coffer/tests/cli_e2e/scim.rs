//! SCIM tokens from the command line (`coffer org scim token …`, docs/scim.md): an owner creates
//! one, the test plays the identity provider with it at the real server's `/scim/v2`, and the
//! person it provisions shows up in `coffer user list`; admins list the tokens but cannot create
//! them; a revoked token is refused at `/scim/v2`.

use crate::support::{self, Server};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// `method` `/scim/v2/Users` with `token` as the bearer (and `body` as JSON): the status and
/// the answer's text.
fn scim_users(s: &Server, token: &str, body: Option<Value>) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let url = format!("{}/scim/v2/Users", s.addr);
        let req = match body {
            Some(body) => http.post(url).json(&body),
            None => http.get(url),
        };
        let res = req.bearer_auth(token).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap_or_default())
    })
}

#[test]
fn scim_tokens_from_the_cli_provision_people_until_revoked() {
    let s = Server::start();
    let owner = s.org_with_owner("acme", &[], "olivia");
    let admin = s.invite_and_accept(&owner, "acme", "adam", "admin", "another long passphrase");
    let as_owner = |args: &[&str]| {
        support::run(
            s.cmd_with_token(&owner).args(["--org", "acme"]).args(args),
            b"",
        )
    };

    // The owner creates a token: its value alone on stdout, the rest on stderr.
    let created = as_owner(&["org", "scim", "token", "create", "okta"]).ok();
    let stdout = created.stdout();
    let token = stdout.trim_end_matches('\n');
    assert_eq!(
        stdout,
        format!("{token}\n"),
        "stdout holds more than the token"
    );
    assert!(token.starts_with("coffer_scim_"), "{stdout}");
    let err = created.stderr();
    assert!(!err.contains(token), "the token reached stderr: {err}");
    assert!(
        err.contains("created SCIM token ") && err.contains("\"okta\" for org acme"),
        "{err}"
    );
    assert!(err.contains("shown only once"), "{err}");
    assert!(
        err.contains(&format!("SCIM base URL {}/scim/v2", s.addr)),
        "{err}"
    );

    // The identity provider provisions sam with it; sam is then a member of acme.
    let (status, body) = scim_users(
        &s,
        token,
        Some(json!({"schemas": [USER_SCHEMA], "userName": "sam"})),
    );
    assert_eq!(status, 201, "{body}");
    let members = as_owner(&["user", "list"]).ok().stdout();
    assert!(
        members
            .lines()
            .any(|l| l.starts_with("sam ") && l.contains(" member ")),
        "{members}"
    );

    // `list` shows the token (never its value), to owners and admins, with the slug as argument.
    let listed = support::run(
        s.cmd_with_token(&owner)
            .args(["org", "scim", "token", "list", "acme"]),
        b"",
    )
    .ok()
    .stdout();
    let header = listed.lines().next().unwrap_or_default();
    for column in ["ID", "NAME", "CREATED BY", "CREATED", "REVOKED"] {
        assert!(header.contains(column), "{listed}");
    }
    let json: Value = serde_json::from_str(
        &as_owner(&["--json", "org", "scim", "token", "list"])
            .ok()
            .stdout(),
    )
    .unwrap();
    let tokens = json["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{json}");
    assert_eq!(tokens[0]["name"], "okta", "{json}");
    assert_eq!(tokens[0]["created_by"], "olivia", "{json}");
    assert!(tokens[0]["revoked_at"].is_null(), "{json}");
    let id = tokens[0]["id"].as_str().unwrap().to_owned();
    let row = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("no row for {id}: {listed}"));
    assert!(
        row.contains(" okta ") && row.contains(" olivia ") && row.ends_with(" -"),
        "{row}"
    );
    assert!(!listed.contains(token) && !json.to_string().contains(token));
    let by_admin = support::run(
        s.cmd_with_token(&admin)
            .args(["--org", "acme", "org", "scim", "token", "list"]),
        b"",
    )
    .ok()
    .stdout();
    assert!(by_admin.contains(&id), "{by_admin}");

    // An admin's `create` is refused with the server's sentence, and nothing reaches stdout.
    let refused = support::run(
        s.cmd_with_token(&admin)
            .args(["org", "scim", "token", "create", "mine", "acme"]),
        b"",
    )
    .expect_code(1);
    assert!(
        refused
            .stderr()
            .contains("your role `admin` in org `acme` cannot create the org's SCIM tokens"),
        "{}",
        refused.stderr()
    );
    assert!(refused.stdout().is_empty(), "{}", refused.stdout());

    // Revoked, the token is refused at /scim/v2 at once; the listing says when.
    let revoked = support::run(
        s.cmd_with_token(&owner)
            .args(["org", "scim", "token", "revoke", &id, "acme"]),
        b"",
    )
    .ok();
    assert!(revoked.stdout().is_empty(), "{}", revoked.stdout());
    assert!(
        revoked
            .stderr()
            .contains(&format!("revoked SCIM token {id} of org acme")),
        "{}",
        revoked.stderr()
    );
    let (status, body) = scim_users(&s, token, None);
    assert_eq!(status, 401, "{body}");
    let after = as_owner(&["org", "scim", "token", "list"]).ok().stdout();
    let row = after.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(!row.ends_with(" -"), "not shown as revoked: {row}");

    // `--json create` answers the server's body (the value once, there too); the operator may
    // revoke a token as a break-glass.
    let json: Value = serde_json::from_str(
        &as_owner(&["--json", "org", "scim", "token", "create", "entra"])
            .ok()
            .stdout(),
    )
    .unwrap();
    let second = json["token"].as_str().unwrap().to_owned();
    assert!(second.starts_with("coffer_scim_"), "{json}");
    let (status, body) = scim_users(&s, &second, None);
    assert_eq!(status, 200, "{body}");
    let second_id = json["id"].as_str().unwrap();
    s.run_as_operator(&["org", "scim", "token", "revoke", second_id, "acme"])
        .ok();
    let (status, body) = scim_users(&s, &second, None);
    assert_eq!(status, 401, "{body}");
}
