//! Webhooks from the command line (`coffer org webhook …`, docs/webhooks.md): an admin adds one
//! for a receiver the test runs on the loopback (the signing secret alone on stdout, the id on
//! stderr), lists it, sees a write and a reveal arrive signed and listed as delivered, gets a
//! new secret, is refused a metadata URL and an unknown event, and removes it.

use crate::support::Server;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got: its header lines and raw body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    /// Whether `Coffer-Signature` is HMAC-SHA256(`secret`, "<t>.<raw body>").
    fn signed_with(&self, secret: &str) -> bool {
        let sig = self.header("coffer-signature");
        let Some((t, v1)) = sig
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
        else {
            return false;
        };
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&self.body);
        let want = aws_lc_rs::hmac::sign(&key, &signed);
        let hex: String = want.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        hex == v1
    }
}

/// A minimal HTTP/1.1 receiver on 127.0.0.1 answering 204 to every POST.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap(); // request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            sink.lock().unwrap().push(Received { headers, body });
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

fn wait_for(got: &Mutex<Vec<Received>>, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{n} deliveries did not arrive: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn webhooks_from_the_cli_add_list_deliver_and_remove() {
    let s = Server::start_with_env(&[
        ("COFFER_WEBHOOKS__ALLOW_LOOPBACK", "true"),
        ("COFFER_WEBHOOKS__INTERVAL", "100ms"),
    ]);
    let (url, got) = receiver();

    // The secret alone on stdout, what was added on stderr.
    let added = s
        .run(&[
            "org",
            "webhook",
            "add",
            &url,
            "--events",
            "secret.written,secret.revealed",
            "--description",
            "ci receiver",
        ])
        .ok();
    let stdout = added.stdout();
    let secret = stdout.trim_end_matches('\n').to_owned();
    assert_eq!(
        stdout,
        format!("{secret}\n"),
        "stdout holds more than the secret"
    );
    assert!(secret.starts_with("whsec_"), "{stdout}");
    let err = added.stderr();
    assert!(!err.contains(&secret), "the secret reached stderr: {err}");
    assert!(err.contains("shown only once"), "{err}");
    let id = err
        .split_whitespace()
        .skip_while(|w| *w != "webhook")
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{err}");

    let list = s.run(&["org", "webhook", "list"]).ok().stdout();
    assert!(list.starts_with("ID "), "{list}");
    let row = list.lines().find(|l| l.starts_with(&id)).expect("listed");
    assert!(
        row.contains(&url) && row.contains("secret.written,secret.revealed"),
        "{row}"
    );
    assert!(row.ends_with("ci receiver"), "{row}");
    assert!(!list.contains(&secret));
    let json = s.run(&["--json", "org", "webhook", "list"]).ok().stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["webhooks"][0]["id"], id.as_str());

    // A write and a reveal arrive, signed; the listing says delivered.
    s.run_stdin(&["secret", "put", "OPS-7", "db-password"], b"hunter2")
        .ok();
    assert_eq!(
        s.run(&["secret", "get", "OPS-7", "db-password"])
            .ok()
            .stdout(),
        "hunter2"
    );
    let got_now = wait_for(&got, 2);
    let mut types: Vec<&str> = got_now
        .iter()
        .map(|r| r.header("coffer-event-type"))
        .collect();
    types.sort();
    assert_eq!(types, ["secret.revealed", "secret.written"]);
    assert!(got_now.iter().all(|r| r.signed_with(&secret)));
    assert!(
        got_now
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("hunter2"))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let out = s.run(&["org", "webhook", "deliveries", &id]).ok().stdout();
        if out.lines().filter(|l| l.contains(" delivered ")).count() == 2 {
            break out;
        }
        assert!(Instant::now() < deadline, "not delivered: {out}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(deliveries.starts_with("ID "), "{deliveries}");
    assert!(
        deliveries.contains("secret.revealed") && deliveries.contains("HTTP 204"),
        "{deliveries}"
    );
    let failed = s
        .run(&["org", "webhook", "deliveries", &id, "--failed"])
        .ok();
    assert_eq!(failed.stdout(), "");
    assert!(
        failed.stderr().contains("no failed deliveries"),
        "{}",
        failed.stderr()
    );

    // A new secret signs from then on.
    let rotated = s.run(&["org", "webhook", "rotate-secret", &id]).ok();
    let fresh = rotated.stdout().trim_end().to_owned();
    assert!(fresh.starts_with("whsec_") && fresh != secret);
    s.run(&["secret", "get", "OPS-7", "db-password"]).ok();
    let got_now = wait_for(&got, 3);
    assert!(got_now[2].signed_with(&fresh) && !got_now[2].signed_with(&secret));

    // Refused on add: a metadata address, an unknown event (by clap, before any request).
    let bad = s
        .run(&[
            "org",
            "webhook",
            "add",
            "http://169.254.169.254/latest",
            "--events",
            "secret.revealed",
        ])
        .expect_code(1);
    assert!(bad.stderr().contains("metadata"), "{}", bad.stderr());
    let bad = s
        .run(&["org", "webhook", "add", &url, "--events", "secret.peeked"])
        .expect_code(2);
    assert!(bad.stderr().contains("secret.peeked"), "{}", bad.stderr());

    // Removed, with its deliveries.
    let removed = s.run(&["org", "webhook", "remove", &id]).ok();
    assert!(
        removed.stderr().contains(&format!("removed webhook {id}")),
        "{}",
        removed.stderr()
    );
    let empty = s.run(&["org", "webhook", "list"]).ok();
    assert_eq!(empty.stdout(), "");
    assert!(
        empty.stderr().contains("no webhooks in org default"),
        "{}",
        empty.stderr()
    );
    s.run(&["org", "webhook", "deliveries", &id]).expect_code(1);
}
