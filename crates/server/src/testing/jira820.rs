//! A second, independent Jira peer: PyPI `jira820` (MIT, FastAPI), a stateful mock of Jira Data
//! Center 8.20.8's REST v2, run as a child process on a free port. Where [`super::jira`] is
//! Coffer's own fake built around Jira's permission and OAuth contract, this one was written by
//! someone else for other clients, so it checks the shapes Coffer sends and parses for issues
//! and remote issue links against an outside reading of Jira DC.
//!
//! What it is, precisely (jira820 0.12.0, read from its source): **no authentication at all**
//! (any `Authorization` header, or none, is accepted; `/rest/api/2/myself` is always `admin`),
//! no `mypermissions`, no OAuth, no webhooks. `GET /rest/api/2/issue/{key}` works by key only (a
//! numeric id is 404), its 404 body is DC's `{"errorMessages":["Issue Does Not Exist: KEY"],
//! "errors":{}}`. Remote links: `GET …/issue/{key}/remotelink` lists them (it ignores a
//! `globalId` query), `POST` upserts by `globalId` and always answers 201, `DELETE` works by
//! link id only (`…/remotelink/{id}`; link ids are positions, 10000 + index, so they shift when
//! an earlier link goes). The `Jira820` type's docs list the rest.
//!
//! The executable comes from `COFFER_JIRA820`, else `.venv-jira820/bin/jira820` at the
//! workspace root (`python3 -m venv .venv-jira820 && .venv-jira820/bin/pip install
//! jira820==0.12.0`; `scripts/test.sh` does it). Without it the test fails, never skips. The
//! server runs under a tiny `sh` guard that waits on a pipe from this process, so it dies with
//! the test process even when no destructor runs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The project jira820 is configured with (its `JIRA820_PROJECT_KEY` default): new issues may
/// be created in it even when it has none yet.
pub const SAMPLE_PROJECT: &str = "JIRA820";

/// How many issues the sample data set has (`JIRA820-1` … `JIRA820-364`, seed 0).
pub const SAMPLE_ISSUES: usize = 364;

/// The bearer token tests send. jira820 checks none, so any value works; sending one keeps
/// Coffer's request shape the same as against a real Jira.
pub const TOKEN: &str = "jira820-accepts-any-token";

/// A running jira820; stopped (and its scratch directory removed) on drop.
pub struct Jira820 {
    base: String,
    dir: PathBuf,
    guard: Mutex<Option<(Child, ChildStdin)>>,
}

/// The `jira820` executable: `COFFER_JIRA820`, else `.venv-jira820/bin/jira820` at the workspace
/// root. Panics, saying how to install it, when it is not there.
pub fn executable() -> PathBuf {
    let p = match std::env::var_os("COFFER_JIRA820") {
        Some(p) => PathBuf::from(p),
        None => Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.venv-jira820/bin/jira820"
        ))
        .to_path_buf(),
    };
    assert!(
        p.is_file(),
        "jira820 is not at {}: run scripts/test.sh, or at the workspace root `python3 -m venv \
         .venv-jira820 && .venv-jira820/bin/pip install jira820==0.12.0`, or set COFFER_JIRA820 \
         to the path of a `jira820` executable",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One issue as jira820 stores it (the record its persistence file holds): a Task, status Open,
/// reporter admin, created 2026-01-01.
fn issue_record(key: &str, summary: &str) -> serde_json::Value {
    let project = key.rsplit_once('-').map(|(p, _)| p).unwrap_or(key);
    serde_json::json!({
        "key": key, "project": project, "type": "Task", "summary": summary,
        "description": null, "module": "Web", "component": null,
        "assignee": null, "reporter": "admin",
        "statusCategory": "todo", "statusName": "Open", "resolution": null,
        "labels": [], "priority": null, "sp": null,
        "epicKey": null, "epicName": null, "parentKey": null,
        "created": "2026-01-01", "updated": "2026-01-01", "resolved": null, "due": null,
        "tcreated": "09:00", "tupdated": "09:00", "tresolved": null,
        "comments": [], "worklog": [], "subtasks": [], "sprints": [], "fixVersions": [],
        "changelog": [], "links": [], "remotelinks": [], "watches": 0, "votes": 0,
    })
}

impl Jira820 {
    /// Starts jira820 holding exactly `issues` (`(key, summary)`, any project keys, e.g.
    /// `("SEC-1", "db creds")`) and none of its sample data. It seeds them through its own
    /// persistence file (`JIRA820_PERSIST`), the one way it offers to load given data; the
    /// projects are those keys' prefixes (plus [`SAMPLE_PROJECT`], empty). Blocks the calling
    /// thread until jira820 answers (a second or two).
    pub fn start(issues: &[(&str, &str)]) -> Jira820 {
        let bin = executable();
        let dir = std::env::temp_dir().join(format!("coffer-jira820-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let records: serde_json::Map<String, serde_json::Value> = issues
            .iter()
            .map(|(k, s)| ((*k).to_owned(), issue_record(k, s)))
            .collect();
        let persist = dir.join("store.json");
        std::fs::write(&persist, serde_json::json!({"issues": records}).to_string())
            .expect("writing jira820's store");
        Self::launch(&bin, dir, Some(persist))
    }

    /// Starts jira820 with its generated sample project: [`SAMPLE_ISSUES`] issues
    /// `JIRA820-1` … in project [`SAMPLE_PROJECT`] (seed 0, dates as of 2026-01-01), some with
    /// remote links, comments, sub-tasks, sprints.
    pub fn start_sample() -> Jira820 {
        let bin = executable();
        let dir = std::env::temp_dir().join(format!("coffer-jira820-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self::launch(&bin, dir, None)
    }

    fn launch(bin: &Path, dir: PathBuf, persist: Option<PathBuf>) -> Jira820 {
        let port = free_port();
        let log = dir.join("jira820.log");
        // The watcher's `cat` returns when our end of the pipe closes (drop or process exit)
        // and kills jira820; the guard itself exits when jira820 does. (fd 3: background jobs
        // get /dev/null as stdin.)
        let script = r#"exec 3<&0
"$1" </dev/null >"$2" 2>&1 & m=$!
(cat <&3 >/dev/null; kill $m 2>/dev/null) &
wait $m"#;
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script, "jira820-guard"])
            .arg(bin)
            .arg(&log)
            .stdin(Stdio::piped())
            // The shell's own "Terminated" when the watcher kills jira820 is noise.
            .stderr(Stdio::null());
        // Only our settings: none of the caller's JIRA820_* (a YAML config, read-only mode…).
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("JIRA820_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("JIRA820_HOST", "127.0.0.1")
            .env("JIRA820_PORT", port.to_string())
            .env("JIRA820_SEED", "0")
            .env("JIRA820_DATE", "2026-01-01");
        if let Some(p) = &persist {
            cmd.env("JIRA820_PERSIST", p);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let j = Jira820 {
            base: format!("http://127.0.0.1:{port}"),
            dir,
            guard: Mutex::new(Some((child, stdin))),
        };
        j.wait_until_up(port, bin, &log);
        j
    }

    /// Waits until `GET /rest/api/2/serverInfo` answers 200 (up to 60 s).
    fn wait_until_up(&self, port: u16, bin: &Path, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = None;
        while Instant::now() < deadline && exited.is_none() {
            if server_info_ok(port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
            let mut guard = self.guard.lock().unwrap_or_else(|p| p.into_inner());
            exited = guard
                .as_mut()
                .and_then(|(child, _)| child.try_wait().ok().flatten());
        }
        let output = std::fs::read_to_string(log).unwrap_or_default();
        panic!(
            "{} did not answer on port {port} within 60 s (exit: {exited:?}); its output:\n{output}",
            bin.display()
        );
    }

    /// `http://127.0.0.1:PORT`: the instance's base URL (REST under `/rest/api/2`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// What to send as `Authorization: Bearer …` ([`TOKEN`]; jira820 accepts anything).
    pub fn token(&self) -> &str {
        TOKEN
    }

    /// The user every request acts as (`/rest/api/2/myself`): `admin`.
    pub fn user(&self) -> &str {
        "admin"
    }

    /// Creates an issue through jira820's REST API (`POST /rest/api/2/issue`, a Task) and returns
    /// `(id, key)`. The project must be [`SAMPLE_PROJECT`] or already have an issue; the key is
    /// the project's highest number + 1.
    pub async fn create_issue(&self, project_key: &str, summary: &str) -> (String, String) {
        let body = serde_json::json!({"fields": {
            "project": {"key": project_key},
            "issuetype": {"name": "Task"},
            "summary": summary,
        }});
        let res = reqwest::Client::new()
            .post(format!("{}/rest/api/2/issue", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("jira820 answers");
        let status = res.status();
        let v: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 201, "jira820 refused to create the issue: {v}");
        (
            v["id"].as_str().unwrap_or_default().to_owned(),
            v["key"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Deletes an issue (`DELETE /rest/api/2/issue/{key}`, which also deletes its sub-tasks).
    pub async fn delete_issue(&self, key: &str) {
        let res = reqwest::Client::new()
            .delete(format!("{}/rest/api/2/issue/{key}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("jira820 answers");
        assert_eq!(res.status(), 204, "jira820 did not delete {key}");
    }

    /// An issue's id (jira820 derives it from the key: the first 8 hex digits of its MD5).
    pub async fn issue_id(&self, key: &str) -> String {
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{}/rest/api/2/issue/{key}?fields=summary",
                self.base
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("jira820 answers")
            .json()
            .await
            .expect("JSON");
        v["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no issue {key}: {v}"))
            .to_owned()
    }

    /// Stops the server (drop does it too).
    pub fn stop(&self) {
        let taken = self.guard.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((mut child, stdin)) = taken {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for Jira820 {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One blocking `GET /rest/api/2/serverInfo`; true on a 200.
fn server_info_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "GET /rest/api/2/serverInfo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::Jira820;
    use serde_json::{Value, json};

    async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(super::TOKEN);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.expect("jira820 answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn issues_and_remote_links() {
        let j = Jira820::start(&[("SEC-1", "db creds"), ("OPS-7", "deploy keys")]);
        let rest = format!("{}/rest/api/2", j.base());

        // GET issue: 200 by key, 404 (DC wording) for a missing one and for an id.
        let (status, v) = call(
            reqwest::Method::GET,
            &format!("{rest}/issue/SEC-1?fields=summary,project"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            (v["key"].as_str(), v["fields"]["summary"].as_str()),
            (Some("SEC-1"), Some("db creds"))
        );
        assert_eq!(v["fields"]["project"]["key"], "SEC");
        let id = v["id"].as_str().unwrap().to_owned();
        assert_eq!(j.issue_id("SEC-1").await, id);
        let (status, v) = call(reqwest::Method::GET, &format!("{rest}/issue/SEC-404"), None).await;
        assert_eq!(status, 404);
        assert_eq!(
            v,
            json!({"errorMessages": ["Issue Does Not Exist: SEC-404"], "errors": {}})
        );
        assert_eq!(
            call(reqwest::Method::GET, &format!("{rest}/issue/{id}"), None)
                .await
                .0,
            404
        );

        // No auth, no permissions endpoint.
        let (status, me) = call(reqwest::Method::GET, &format!("{rest}/myself"), None).await;
        assert_eq!((status, me["name"].as_str()), (200, Some("admin")));
        assert_eq!(
            call(
                reqwest::Method::GET,
                &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-1"),
                None
            )
            .await
            .0,
            404
        );

        // Remote links: create (201), update by globalId (201 again, same id), list, delete by id.
        let links = format!("{rest}/issue/SEC-1/remotelink");
        let link = |title: &str| {
            json!({
                "globalId": "coffer:issue=SEC-1",
                "application": {"type": "coffer", "name": "Coffer"},
                "relationship": "secrets",
                "object": {"url": "https://coffer.example/jira/SEC-1", "title": title, "summary": "s",
                           "icon": {"url16x16": "https://coffer.example/icon.png", "title": "Coffer"}},
            })
        };
        let (status, v) = call(reqwest::Method::POST, &links, Some(link("Secrets (1)"))).await;
        assert_eq!((status, v["id"].clone()), (201, json!(10000)), "{v}");
        let (status, v) = call(reqwest::Method::POST, &links, Some(link("Secrets (2)"))).await;
        assert_eq!((status, v["id"].clone()), (201, json!(10000)), "{v}");
        let (status, list) = call(reqwest::Method::GET, &links, None).await;
        assert_eq!(status, 200);
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(list[0]["globalId"], "coffer:issue=SEC-1");
        assert_eq!(list[0]["relationship"], "secrets");
        assert_eq!(list[0]["object"]["title"], "Secrets (2)");
        assert_eq!(
            list[0]["object"]["icon"]["url16x16"],
            "https://coffer.example/icon.png"
        );
        assert!(
            list[0].get("application").is_none(),
            "jira820 drops application: {list}"
        );
        let (status, v) = call(
            reqwest::Method::POST,
            &links,
            Some(json!({"object": {"title": "no url"}})),
        )
        .await;
        assert_eq!(
            (status, v["errorMessages"][0].as_str()),
            (400, Some("object.url required"))
        );
        assert_eq!(
            call(
                reqwest::Method::POST,
                &format!("{rest}/issue/SEC-404/remotelink"),
                Some(link("x"))
            )
            .await
            .0,
            404
        );
        // DELETE by globalId is not served (405); by id it is.
        assert_eq!(
            call(
                reqwest::Method::DELETE,
                &format!("{links}?globalId=coffer%3Aissue%3DSEC-1"),
                None
            )
            .await
            .0,
            405
        );
        assert_eq!(
            call(reqwest::Method::DELETE, &format!("{links}/10000"), None)
                .await
                .0,
            204
        );
        assert_eq!(call(reqwest::Method::GET, &links, None).await.1, json!([]));

        // Seeding through the API: a new issue in a project that has one.
        let (new_id, key) = j.create_issue("OPS", "rotate keys").await;
        assert_eq!(key, "OPS-8");
        assert_eq!(j.issue_id("OPS-8").await, new_id);
        j.delete_issue("OPS-8").await;
        assert_eq!(
            call(reqwest::Method::GET, &format!("{rest}/issue/OPS-8"), None)
                .await
                .0,
            404
        );
    }

    #[tokio::test]
    async fn sample_data_set() {
        let j = Jira820::start_sample();
        let rest = format!("{}/rest/api/2", j.base());
        let (status, v) = call(
            reqwest::Method::GET,
            &format!("{rest}/search?jql=&maxResults=0"),
            None,
        )
        .await;
        assert_eq!(
            (status, v["total"].as_u64()),
            (200, Some(super::SAMPLE_ISSUES as u64))
        );
        let (status, v) = call(
            reqwest::Method::GET,
            &format!("{rest}/issue/JIRA820-1?fields=project"),
            None,
        )
        .await;
        assert_eq!(
            (status, v["fields"]["project"]["key"].as_str()),
            (200, Some(super::SAMPLE_PROJECT))
        );
        let (status, v) = call(reqwest::Method::GET, &format!("{rest}/serverInfo"), None).await;
        assert_eq!((status, v["version"].as_str()), (200, Some("8.20.8")));
    }
}
