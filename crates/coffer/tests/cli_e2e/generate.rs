//! `coffer secret put --generate` against a real server: the generated value is stored with the
//! asked length and charset, `secret get` reveals it, and it is never on stdout (unless --show)
//! nor on stderr. Bad options are refused before anything is sent, so nothing is stored.

use crate::support::{Run, Server, run};
use std::process::Stdio;

#[track_caller]
fn get(s: &Server, scope: &str, name: &str) -> String {
    s.run(&["secret", "get", scope, name]).ok().stdout()
}

#[track_caller]
fn no_secrets(s: &Server, scope: &str) {
    let out = s.run(&["--json", "secret", "list", scope]).ok().stdout();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["secrets"],
        serde_json::json!([]),
        "something was stored: {out}"
    );
}

#[test]
fn put_generate_stores_a_value_of_the_length_and_charset_that_get_reveals() {
    let s = Server::start();

    let put = s
        .run(&["secret", "put", "OPS-1", "api-key", "--generate"])
        .ok();
    assert!(
        put.stderr()
            .contains("stored OPS-1/api-key version 1 (generated: 32 characters of alnum)"),
        "{}",
        put.stderr()
    );
    assert!(put.stdout().is_empty(), "put printed: {}", put.stdout());
    let value = get(&s, "OPS-1", "api-key");
    assert_eq!(value.len(), 32, "{value:?}");
    assert!(
        value.chars().all(|c| c.is_ascii_alphanumeric()),
        "{value:?}"
    );
    assert!(!put.stderr().contains(&value), "the value reached stderr");

    // A new version is a new value.
    s.run(&["secret", "put", "OPS-1", "api-key", "--generate"])
        .ok();
    let again = get(&s, "OPS-1", "api-key");
    assert_ne!(again, value);

    // --length and a named charset.
    let put = s
        .run(&[
            "secret",
            "put",
            "OPS-1",
            "hex-key",
            "--generate",
            "--length",
            "64",
            "--charset",
            "hex",
        ])
        .ok();
    assert!(put.stdout().is_empty());
    let hex = get(&s, "OPS-1", "hex-key");
    assert_eq!(hex.len(), 64);
    assert!(
        hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{hex}"
    );
    assert!(!put.stderr().contains(&hex));

    // A custom set, repeats ignored; sealed client-side works the same.
    let put = s
        .run(&[
            "secret",
            "put",
            "OPS-1",
            "pin",
            "--generate",
            "--length",
            "8",
            "--charset-chars",
            "xyzxyz",
            "--client-side",
        ])
        .ok();
    assert!(
        put.stderr()
            .contains("(generated: 8 characters of 3 custom characters)"),
        "{}",
        put.stderr()
    );
    let pin = get(&s, "OPS-1", "pin");
    assert_eq!(pin.len(), 8);
    assert!(pin.chars().all(|c| "xyz".contains(c)), "{pin}");

    // --show prints exactly the stored value on stdout, and nothing else.
    let shown = s
        .run(&[
            "secret",
            "put",
            "OPS-1",
            "shown",
            "--generate",
            "--charset",
            "digits",
            "--show",
        ])
        .ok();
    let stored = get(&s, "OPS-1", "shown");
    assert_eq!(shown.stdout(), stored);
    assert!(stored.chars().all(|c| c.is_ascii_digit()) && stored.len() == 32);
    assert!(!shown.stderr().contains(&stored));

    // The metadata says what it is: a password, version 1.
    let list = s.run(&["secret", "list", "OPS-1"]).ok().stdout();
    assert!(
        list.lines()
            .any(|l| l.contains("hex-key") && l.contains("password")),
        "{list}"
    );
}

#[test]
fn bad_generate_options_are_refused_and_store_nothing() {
    let s = Server::start();
    let refused = |args: &[&str], code: i32, says: &str| {
        let mut all = vec!["secret", "put", "OPS-2", "key"];
        all.extend_from_slice(args);
        let r = s.run(&all).expect_code(code);
        assert!(r.stderr().contains(says), "{args:?}: {}", r.stderr());
        assert!(r.stdout().is_empty());
    };
    refused(&["--generate", "--length", "7"], 2, "between 8 and 4096");
    refused(&["--generate", "--length", "4097"], 2, "between 8 and 4096");
    refused(
        &["--generate", "--charset-chars", "aaaa"],
        2,
        "at least 2 different",
    );
    refused(
        &["--generate", "--charset-chars", ""],
        2,
        "at least 2 different",
    );
    refused(
        &["--generate", "--charset", "hex", "--charset-chars", "ab"],
        2,
        "cannot be used with",
    );
    refused(&["--generate", "--kind", "kv"], 2, "JSON object");
    refused(&["--generate", "--show", "--json"], 2, "use one of them");
    refused(&["--length", "16"], 2, "--generate");
    let file = s.scratch("value.txt");
    std::fs::write(&file, "from a file").unwrap();
    refused(
        &["--generate", "--file", file.to_str().unwrap()],
        2,
        "cannot be used with",
    );
    // stdin redirected from a file is a value source of its own.
    let mut cmd = s.cmd();
    cmd.args(["secret", "put", "OPS-2", "key", "--generate"]);
    let out = cmd
        .stdin(Stdio::from(std::fs::File::open(&file).unwrap()))
        .output()
        .unwrap();
    let r = Run { out };
    let r = r.expect_code(2);
    assert!(r.stderr().contains("stdin is a file"), "{}", r.stderr());
    no_secrets(&s, "OPS-2");

    // A piped stdin is simply not read.
    let r = run(
        s.cmd()
            .args(["secret", "put", "OPS-2", "key", "--generate"]),
        b"piped value",
    )
    .ok();
    assert!(r.stdout().is_empty());
    let value = get(&s, "OPS-2", "key");
    assert_eq!(value.len(), 32);
    assert_ne!(value, "piped value");
}
