//! `coffer secret get --copy`: puts a revealed value on the system clipboard, stays in the
//! foreground, and clears the clipboard after [`CLEAR_AFTER`] (or at once on Ctrl-C, SIGTERM or
//! SIGHUP) — but only if it still holds that value, so something the user copied meanwhile is
//! left alone. The clipboard sits behind the small [`Clipboard`] trait: [`System`] is the real one
//! (`arboard`: X11, Wayland data-control, macOS, Windows), and the timing and clearing logic is
//! tested with a fake. Errors never contain the value.
//!
//! The delay can be shortened with the undocumented `COFFER_CLIPBOARD_CLEAR_AFTER` (e.g. `3s`),
//! which the end-to-end tests use; it is an environment variable rather than a hidden flag
//! because the generated shell completions would offer a hidden flag all the same.

use crate::error::{CliError, Result};
use std::future::Future;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a copied value stays on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(30);

/// The environment variable that overrides [`CLEAR_AFTER`] (tests only; not in the help).
const CLEAR_AFTER_VAR: &str = "COFFER_CLIPBOARD_CLEAR_AFTER";

/// How long to keep the value on the clipboard: [`CLEAR_AFTER`], or `COFFER_CLIPBOARD_CLEAR_AFTER`
/// when set (humantime syntax, at most an hour).
pub fn clear_after() -> Result<Duration> {
    let Some(raw) = std::env::var_os(CLEAR_AFTER_VAR) else {
        return Ok(CLEAR_AFTER);
    };
    raw.to_str()
        .and_then(|s| humantime::parse_duration(s).ok())
        .filter(|d| *d <= Duration::from_secs(3600))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{CLEAR_AFTER_VAR} must be a duration of at most 1h, e.g. 30s"
            ))
        })
}

/// What `--copy` needs of a clipboard.
pub trait Clipboard {
    /// Replaces the clipboard's content with `text`.
    fn set_text(&mut self, text: &str) -> Result<()>;
    /// The clipboard's text, or `None` when it holds no text (empty, or an image).
    fn get_text(&mut self) -> Result<Option<Zeroizing<String>>>;
    /// Empties the clipboard.
    fn clear(&mut self) -> Result<()>;
}

/// How a hold of the clipboard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// A signal (Ctrl-C, SIGTERM, SIGHUP) ended the wait before the delay was over.
    pub interrupted: bool,
    /// The clipboard still held the value and was cleared (else it was left alone).
    pub cleared: bool,
}

/// Copies `text` (which `what` names in messages) to `clipboard`, says so on stderr, and clears
/// it after `after` or on Ctrl-C / SIGTERM / SIGHUP, if it still holds `text`.
pub async fn copy_and_clear(
    clipboard: &mut impl Clipboard,
    what: &str,
    text: &str,
    after: Duration,
) -> Result<Outcome> {
    // Signal handlers first: a Ctrl-C right after the copy must clear, not kill the process.
    let interrupted = interrupt_signals()?;
    clipboard.set_text(text)?;
    eprintln!(
        "Copied {what} to the clipboard; it will be cleared in {}. Press Ctrl-C to clear it now.",
        seconds(after)
    );
    let outcome = wait_then_clear(clipboard, text, after, interrupted).await?;
    if outcome.cleared {
        eprintln!("Cleared the clipboard.");
    } else {
        eprintln!("The clipboard holds something else now; left it as it is.");
    }
    Ok(outcome)
}

/// Waits for `after` or for `interrupted`, whichever comes first, then clears `clipboard` if it
/// still holds `text`.
pub async fn wait_then_clear(
    clipboard: &mut impl Clipboard,
    text: &str,
    after: Duration,
    interrupted: impl Future<Output = ()>,
) -> Result<Outcome> {
    let interrupted = tokio::select! {
        () = tokio::time::sleep(after) => false,
        () = interrupted => true,
    };
    // Unreadable counts as changed: clearing is only for our own value.
    let ours = matches!(clipboard.get_text(), Ok(Some(current)) if current.as_str() == text);
    if ours {
        clipboard.clear()?;
    }
    Ok(Outcome {
        interrupted,
        cleared: ours,
    })
}

/// `30 s`, or `1500 ms` for a delay that is not whole seconds.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A future that completes on the first Ctrl-C (SIGINT), SIGTERM or SIGHUP. The handlers are
/// installed here, before it is first polled.
#[cfg(unix)]
fn interrupt_signals() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind| {
        signal(kind).map_err(|e| CliError::Other(anyhow::anyhow!("cannot handle signals: {e}")))
    };
    let mut int = install(SignalKind::interrupt())?;
    let mut term = install(SignalKind::terminate())?;
    let mut hup = install(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
            _ = hup.recv() => {},
        }
    })
}

/// A future that completes on the first Ctrl-C.
#[cfg(not(unix))]
fn interrupt_signals() -> Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// The system clipboard, through `arboard`.
pub struct System(arboard::Clipboard);

impl System {
    /// Opens the clipboard, or says why there is none. On Linux and the BSDs that needs a
    /// graphical session: `DISPLAY` (X11) or `WAYLAND_DISPLAY`.
    pub fn open() -> Result<System> {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            let set = |var| std::env::var_os(var).is_some_and(|v| !v.is_empty());
            if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
                return Err(no_clipboard("no DISPLAY/WAYLAND_DISPLAY".to_owned()));
            }
        }
        arboard::Clipboard::new()
            .map(System)
            .map_err(|e| no_clipboard(e.to_string()))
    }
}

fn no_clipboard(why: String) -> CliError {
    CliError::Other(anyhow::anyhow!(
        "no clipboard available ({why}); use plain `secret get` to print the value"
    ))
}

impl Clipboard for System {
    fn set_text(&mut self, text: &str) -> Result<()> {
        let set = self.0.set();
        // Asks clipboard managers (KDE's Klipper and others that honour the hint) not to keep
        // the value in their history.
        #[cfg(all(unix, not(target_os = "macos")))]
        let set = arboard::SetExtLinux::exclude_from_history(set);
        set.text(text).map_err(|e| {
            CliError::Other(anyhow::anyhow!(
                "cannot put the value on the clipboard: {e}"
            ))
        })
    }

    fn get_text(&mut self) -> Result<Option<Zeroizing<String>>> {
        match self.0.get_text() {
            Ok(text) => Ok(Some(Zeroizing::new(text))),
            Err(arboard::Error::ContentNotAvailable) => Ok(None),
            Err(e) => Err(CliError::Other(anyhow::anyhow!(
                "cannot read the clipboard: {e}"
            ))),
        }
    }

    fn clear(&mut self) -> Result<()> {
        self.0
            .clear()
            .map_err(|e| CliError::Other(anyhow::anyhow!("cannot clear the clipboard: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Instant;

    /// A clipboard in memory; clones share it, so a test can change it during a wait.
    #[derive(Clone, Default)]
    struct Fake {
        content: Rc<RefCell<Option<String>>>,
        clears: Rc<RefCell<u32>>,
        unreadable: bool,
    }

    impl Clipboard for Fake {
        fn set_text(&mut self, text: &str) -> Result<()> {
            *self.content.borrow_mut() = Some(text.to_owned());
            Ok(())
        }
        fn get_text(&mut self) -> Result<Option<Zeroizing<String>>> {
            if self.unreadable {
                return Err(CliError::Other(anyhow::anyhow!("unreadable")));
            }
            Ok(self.content.borrow().clone().map(Zeroizing::new))
        }
        fn clear(&mut self) -> Result<()> {
            *self.content.borrow_mut() = None;
            *self.clears.borrow_mut() += 1;
            Ok(())
        }
    }

    #[tokio::test]
    async fn clears_after_the_delay_when_unchanged() {
        let mut fake = Fake::default();
        fake.set_text("s3cret").unwrap();
        let start = Instant::now();
        let after = Duration::from_millis(50);
        let outcome = wait_then_clear(&mut fake, "s3cret", after, std::future::pending())
            .await
            .unwrap();
        assert!(
            start.elapsed() >= after,
            "cleared early: {:?}",
            start.elapsed()
        );
        assert_eq!(
            outcome,
            Outcome {
                interrupted: false,
                cleared: true
            }
        );
        assert_eq!(*fake.content.borrow(), None);
        assert_eq!(*fake.clears.borrow(), 1);
    }

    #[tokio::test]
    async fn an_interrupt_clears_at_once() {
        let mut fake = Fake::default();
        fake.set_text("s3cret").unwrap();
        let start = Instant::now();
        let outcome = wait_then_clear(
            &mut fake,
            "s3cret",
            Duration::from_secs(3600),
            std::future::ready(()),
        )
        .await
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(
            outcome,
            Outcome {
                interrupted: true,
                cleared: true
            }
        );
        assert_eq!(*fake.content.borrow(), None);
    }

    #[tokio::test]
    async fn something_copied_meanwhile_is_left_alone() {
        let mut fake = Fake::default();
        fake.set_text("s3cret").unwrap();
        let other = fake.clone();
        // The user copies something else while coffer waits.
        let meanwhile = async move {
            *other.content.borrow_mut() = Some("a url".to_owned());
            std::future::pending::<()>().await
        };
        let outcome = wait_then_clear(&mut fake, "s3cret", Duration::from_millis(20), meanwhile)
            .await
            .unwrap();
        assert!(!outcome.cleared);
        assert_eq!(fake.content.borrow().as_deref(), Some("a url"));
        assert_eq!(*fake.clears.borrow(), 0);

        // Emptied meanwhile: nothing to clear either.
        let mut fake = Fake::default();
        let outcome = wait_then_clear(&mut fake, "s3cret", Duration::ZERO, std::future::pending())
            .await
            .unwrap();
        assert!(!outcome.cleared);
        assert_eq!(*fake.clears.borrow(), 0);
    }

    #[tokio::test]
    async fn an_unreadable_clipboard_is_not_cleared() {
        let mut fake = Fake {
            unreadable: true,
            ..Fake::default()
        };
        fake.set_text("s3cret").unwrap();
        let outcome = wait_then_clear(&mut fake, "s3cret", Duration::ZERO, std::future::pending())
            .await
            .unwrap();
        assert!(!outcome.cleared);
        assert_eq!(*fake.clears.borrow(), 0);
    }

    #[test]
    fn delays_read_naturally() {
        assert_eq!(seconds(CLEAR_AFTER), "30 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1500 ms");
    }
}
