//! `coffer secret get --copy`. Without a graphical session it fails with the documented sentence
//! before anything is revealed. Under a real X server (Xvfb, started by the test on a display
//! number it picks itself) the value is on the clipboard for another program (`xclip -o`), stdout
//! stays empty, and the clipboard is cleared after the delay (shortened through
//! COFFER_CLIPBOARD_CLEAR_AFTER) or at once on Ctrl-C — but left alone when something else was
//! copied meanwhile.
//!
//! The Xvfb test needs the Debian packages `xvfb` and `xclip`. Without them it is skipped with a
//! loud note, unless COFFER_REQUIRE_CLIPBOARD is set, which makes that a failure.

use crate::support::{Server, run};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const VALUE: &str = "s3cret-for-the-clipboard";

#[test]
fn without_a_display_copy_fails_and_reveals_nothing() {
    let s = Server::start();
    s.run_stdin(
        &["secret", "put", "OPS-8", "pw", "--view-limit", "1"],
        VALUE.as_bytes(),
    )
    .ok();
    let r = run(
        s.cmd()
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .args(["secret", "get", "OPS-8", "pw", "--copy"]),
        b"",
    )
    .expect_code(1);
    assert_eq!(
        r.stderr(),
        "error: no clipboard available (no DISPLAY/WAYLAND_DISPLAY); use plain `secret get` to \
         print the value\n"
    );
    assert!(r.stdout().is_empty());
    // The one allowed view was not spent.
    assert_eq!(
        s.run(&["secret", "get", "OPS-8", "pw"]).ok().stdout(),
        VALUE
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A private X server on a free display, killed when dropped.
struct Xvfb {
    child: Child,
    display: String,
    /// Xvfb's stdout, kept open: a write to a closed pipe would kill it with SIGPIPE.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Xvfb {
    /// Starts Xvfb, or returns `None` after a loud note when it (or xclip) is not installed and
    /// COFFER_REQUIRE_CLIPBOARD is unset.
    fn start_or_skip(test: &str) -> Option<Xvfb> {
        if !on_path("Xvfb") || !on_path("xclip") {
            assert!(
                std::env::var_os("COFFER_REQUIRE_CLIPBOARD").is_none(),
                "COFFER_REQUIRE_CLIPBOARD is set, but Xvfb or xclip is missing \
                 (apt-get install -y xvfb xclip)"
            );
            // Straight to stderr: the test harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!! SKIPPED {test}: Xvfb or xclip is not installed \
                 (apt-get install -y xvfb xclip); set COFFER_REQUIRE_CLIPBOARD=1 to fail instead \
                 !!!!!!!!\n"
            );
            return None;
        }
        // -displayfd: Xvfb picks a free display number and writes it to stdout once it accepts
        // connections. -noreset: by default an X server resets when its last client leaves, and
        // refuses connections meanwhile (between two coffer runs).
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-noreset",
                "-screen",
                "0",
                "320x240x24",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting Xvfb");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout
            .read_line(&mut line)
            .expect("reading Xvfb's display number");
        let number = line.trim();
        assert!(
            !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
            "Xvfb did not say its display: {line:?}"
        );
        Some(Xvfb {
            display: format!(":{number}"),
            child,
            _stdout: stdout,
        })
    }

    /// The clipboard's text as `xclip -o` shows it, `None` when it is empty.
    fn clipboard(&self) -> Option<String> {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .output()
            .expect("running xclip");
        (out.status.success() && !out.stdout.is_empty())
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Copies `text` with xclip, as another program would.
    fn copy(&self, text: &str) {
        let mut xclip = Command::new("xclip")
            .args(["-i", "-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("running xclip");
        xclip
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        // xclip forks a child that serves the selection until Xvfb goes; the parent exits.
        assert!(xclip.wait().unwrap().success());
    }

    /// Waits until the clipboard shows `text`; fails early, with its output, if `coffer` (the
    /// program that should have put it there) exits first.
    #[track_caller]
    fn wait_for(&self, text: &str, coffer: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.clipboard().as_deref() != Some(text) {
            if let Some(status) = coffer.try_wait().unwrap() {
                let mut stderr = String::new();
                coffer
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .unwrap();
                panic!("coffer exited ({status}) before the clipboard showed the text: {stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "the clipboard never showed the expected text (it shows {:?})",
                self.clipboard().map(|t| t.len())
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `coffer secret get OPS-9 pw --copy` on the display, clearing after `after`.
fn copy(s: &Server, x: &Xvfb, after: &str) -> Child {
    s.cmd()
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("COFFER_CLIPBOARD_CLEAR_AFTER", after)
        .args(["secret", "get", "OPS-9", "pw", "--copy"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning coffer")
}

/// Waits (at most 60 s) for `child` and returns its output.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("coffer secret get --copy did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

#[test]
fn copy_puts_the_value_on_a_real_x11_clipboard_and_clears_it() {
    let Some(x) = Xvfb::start_or_skip("copy_puts_the_value_on_a_real_x11_clipboard_and_clears_it")
    else {
        return;
    };
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-9", "pw"], VALUE.as_bytes())
        .ok();

    // Cleared after the delay.
    let started = Instant::now();
    let mut child = copy(&s, &x, "3s");
    x.wait_for(VALUE, &mut child);
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(3), "cleared early");
    assert!(out.stdout.is_empty(), "--copy printed on stdout");
    assert!(
        stderr.contains(
            "Copied OPS-9/pw version 1 to the clipboard; it will be cleared in 3 s. \
             Press Ctrl-C to clear it now."
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Cleared the clipboard."), "{stderr}");
    assert!(!stderr.contains(VALUE));
    assert_eq!(x.clipboard(), None, "the value is still on the clipboard");

    // Ctrl-C clears at once.
    let mut child = copy(&s, &x, "10m");
    x.wait_for(VALUE, &mut child);
    let interrupted = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(interrupted.elapsed() < Duration::from_secs(30));
    assert!(stderr.contains("Cleared the clipboard."), "{stderr}");
    assert_eq!(x.clipboard(), None);

    // Something copied meanwhile stays.
    let mut child = copy(&s, &x, "3s");
    x.wait_for(VALUE, &mut child);
    x.copy("something else");
    x.wait_for("something else", &mut child);
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("left it as it is"), "{stderr}");
    assert_eq!(x.clipboard().as_deref(), Some("something else"));
}
