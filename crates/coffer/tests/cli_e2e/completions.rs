//! `coffer completions SHELL` as a user installs it: the bash script is printed without a server
//! or token, is valid bash (`bash -n`, when bash is installed), and, sourced into bash, completes
//! `coffer secret <TAB>` with the secret subcommands.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_coffer");

fn script(shell: &str) -> String {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .env_remove("COFFER_TOKEN")
        .env_remove("COFFER_ADDR")
        .output()
        .expect("running coffer completions");
    assert!(
        out.status.success(),
        "coffer completions {shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 script")
}

fn have_bash() -> bool {
    Command::new("bash")
        .args(["-c", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn bash_script_is_valid_and_completes_secret_subcommands() {
    let bash = script("bash");
    assert!(!bash.trim().is_empty());
    assert!(
        bash.contains("complete -F _coffer"),
        "no completion function registered"
    );
    for sub in ["put", "get", "list", "history", "destroy"] {
        assert!(
            bash.contains(&format!("coffer__subcmd__secret__subcmd__{sub}")),
            "the script has no case for `coffer secret {sub}`"
        );
    }
    if !have_bash() {
        eprintln!("bash is not installed: skipping `bash -n` and the completion run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coffer.bash");
    std::fs::write(&file, &bash).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        syntax.status.success(),
        "bash -n refused the script: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // What bash offers after `coffer secret `, and after `coffer secret put --ch`: the words
    // typed so far go in as $2…, the cursor is on the last one, as bash sets it up for a TAB.
    const COMPLETE: &str = r#"
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _coffer coffer "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let complete = |words: &[&str]| {
        let run = Command::new("bash")
            .args(["-c", COMPLETE, "bash"])
            .arg(&file)
            .args(words)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8(run.stdout).unwrap()
    };
    let offered = complete(&["coffer", "secret", ""]);
    for sub in ["put", "get", "list", "share", "access"] {
        assert!(
            offered.lines().any(|l| l == sub),
            "`coffer secret <TAB>` does not offer {sub}: {offered}"
        );
    }
    let offered = complete(&["coffer", "secret", "put", "--ch"]);
    assert!(
        offered.lines().any(|l| l == "--charset")
            && offered.lines().any(|l| l == "--charset-chars"),
        "{offered}"
    );
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in [
        ("zsh", "#compdef coffer"),
        ("fish", "complete -c coffer"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let text = script(shell);
        assert!(text.contains(marker), "{shell}: no {marker:?}");
        assert!(text.contains("secret"), "{shell}: no secret command");
    }
}
