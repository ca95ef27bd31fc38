//! The parsers of `coffer import`: each reads a whole file into [`Entry`]s (or refuses it naming
//! the line or entry), then [`validate`] maps every source key to a secret name and refuses bad
//! names, duplicates and empty values. No I/O here; values live in [`Zeroizing`] strings.
//!
//! Name rule: ASCII lower-cased, `_` and whitespace turned into `-` (`DB_PASSWORD` →
//! `db-password`, Bitwarden's `GitHub Deploy` → `github-deploy`); the result must be a valid
//! secret name (`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, coffer_api::patterns::SECRET_NAME).

use crate::cli::KindArg;
use crate::cli::transfer::ImportFormat;
use serde_json::Value;
use std::collections::HashMap;
use zeroize::{Zeroize as _, Zeroizing};

/// One value read from the file, before its name is checked.
pub struct Entry {
    /// The key as the file spells it (`DB_PASSWORD`, a Bitwarden item's name).
    pub key: String,
    /// The secret name it maps to (filled in by [`validate`]).
    pub name: String,
    /// The value.
    pub value: Zeroizing<String>,
    /// `password` or `note`.
    pub kind: KindArg,
    /// Where it came from, for messages: `line 3`, `key "DB_PASSWORD"`, `item "GitHub" (items[0])`.
    pub source: String,
}

/// A parsed file: what to write, and what was left out on purpose (with why).
#[derive(Default)]
pub struct Parsed {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// One sentence per skipped item (Bitwarden cards, identities, …).
    pub skipped: Vec<String>,
}

/// Parses and validates a whole file; `Err` holds one message per problem (each naming its line
/// or entry).
pub fn parse(format: ImportFormat, text: &str) -> Result<Parsed, Vec<String>> {
    let parsed = match format {
        ImportFormat::Dotenv => dotenv(text),
        ImportFormat::Json => json(text),
        ImportFormat::VaultKv => vault_kv(text),
        ImportFormat::BitwardenJson => bitwarden(text),
    }
    .map_err(|e| vec![e])?;
    validate(parsed)
}

/// `DB_PASSWORD` → `db-password`.
pub fn secret_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c == '_' || c.is_whitespace() {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Whether `name` is a valid secret name (coffer_api::patterns::SECRET_NAME).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.len() <= coffer_api::patterns::SECRET_NAME_MAX
}

/// Maps names, then refuses invalid names, two keys mapping to one name, and empty values.
fn validate(mut parsed: Parsed) -> Result<Parsed, Vec<String>> {
    let mut problems = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for e in &mut parsed.entries {
        e.name = secret_name(&e.key);
        if !valid_name(&e.name) {
            problems.push(format!(
                "{}: {:?} maps to the secret name {:?}, which is not valid: use letters, digits, \
                 '.', '_' or '-', starting with a letter or digit, at most 128 characters",
                e.source, e.key, e.name
            ));
            continue;
        }
        if e.value.is_empty() {
            problems.push(format!(
                "{}: {:?} has an empty value; Coffer does not store empty secrets",
                e.source, e.key
            ));
        }
        if let Some(first) = seen.get(&e.name) {
            problems.push(format!(
                "{}: {:?} maps to the secret name {:?}, like {first}",
                e.source, e.key, e.name
            ));
        } else {
            seen.insert(e.name.clone(), e.source.clone());
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

fn entry(key: &str, value: Zeroizing<String>, kind: KindArg, source: String) -> Entry {
    Entry {
        key: key.to_owned(),
        name: String::new(),
        value,
        kind,
        source,
    }
}

/// `.env`: `KEY=value`, `export KEY=value`, `'single'` (literal), `"double"` (escapes `\n \r
/// \t \" \\ \$`; other backslashes stay), quoted values may span lines, `#` comments (whole
/// lines, or after whitespace following an unquoted value or a closing quote), blank lines.
pub fn dotenv(text: &str) -> Result<Parsed, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1; // 1-based line number
        let line = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
        i += 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let rest = trimmed
            .strip_prefix("export")
            .filter(|r| r.starts_with([' ', '\t']))
            .map_or(trimmed, str::trim_start);
        let Some((key, raw)) = rest.split_once('=') else {
            return Err(format!("line {start}: expected KEY=value"));
        };
        let key = key.trim_end();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!(
                "line {start}: expected KEY=value, where KEY has no spaces"
            ));
        }
        let raw = raw.trim_start();
        let mut value = Zeroizing::new(String::new());
        let after: &str;
        if let Some(quote @ ('"' | '\'')) = raw.chars().next() {
            // Walk the rest of this line, then following lines, until the closing quote.
            let mut cur: &str = &raw[1..];
            loop {
                match scan_quoted(cur, quote, &mut value) {
                    Some(end) => {
                        after = &cur[end..];
                        break;
                    }
                    None if i < lines.len() => {
                        value.push('\n');
                        cur = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
                        i += 1;
                    }
                    None => {
                        return Err(format!(
                            "line {start}: the {} quote of {key} is never closed",
                            if quote == '"' { "double" } else { "single" }
                        ));
                    }
                }
            }
            let after = after.trim_start();
            if !after.is_empty() && !after.starts_with('#') {
                return Err(format!(
                    "line {}: unexpected text after the closing quote of {key}",
                    i
                ));
            }
        } else {
            let end = comment_start(raw).unwrap_or(raw.len());
            value.push_str(raw[..end].trim_end());
        }
        parsed.entries.push(entry(
            key,
            value,
            KindArg::Password,
            format!("line {start}"),
        ));
    }
    Ok(parsed)
}

/// Appends the quoted text of `s` (after the opening quote) to `out`; returns the byte index just
/// past the closing quote, or `None` when this line does not close it.
fn scan_quoted(s: &str, quote: char, out: &mut String) -> Option<usize> {
    let mut chars = s.char_indices();
    while let Some((idx, c)) = chars.next() {
        if c == quote {
            return Some(idx + 1);
        }
        if c == '\\' && quote == '"' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 't')) => out.push('\t'),
                Some((_, e @ ('"' | '\\' | '$'))) => out.push(e),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
            continue;
        }
        out.push(c);
    }
    None
}

/// Where a ` #` comment starts in an unquoted value.
fn comment_start(raw: &str) -> Option<usize> {
    if raw.starts_with('#') {
        return Some(0);
    }
    raw.char_indices()
        .zip(raw.chars().skip(1))
        .find(|((_, c), next)| c.is_whitespace() && *next == '#')
        .map(|((idx, _), _)| idx)
}

/// Parses JSON without echoing the parser's message (it could quote a value).
fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("not valid JSON (line {}, column {})", e.line(), e.column()))
}

/// Takes the string values of a flat object; `path` names the object in messages (`$`,
/// `data.data`).
fn flat_object(
    map: &mut serde_json::Map<String, Value>,
    path: &str,
    parsed: &mut Parsed,
) -> Result<(), String> {
    for (key, v) in map.iter_mut() {
        match v {
            Value::String(s) => {
                let value = Zeroizing::new(std::mem::take(s));
                parsed.entries.push(entry(
                    key,
                    value,
                    KindArg::Password,
                    format!("key {key:?} ({path}.{key})"),
                ));
            }
            other => {
                return Err(format!(
                    "key {key:?} ({path}.{key}): the value is {}, expected a string",
                    json_type(other)
                ));
            }
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A flat JSON object of string values.
pub fn json(text: &str) -> Result<Parsed, String> {
    let mut v = WipeJson(parse_json(text)?);
    let Value::Object(map) = &mut v.0 else {
        return Err(format!(
            "expected a JSON object of string values, got {}",
            json_type(&v.0)
        ));
    };
    let mut parsed = Parsed::default();
    flat_object(map, "$", &mut parsed)?;
    Ok(parsed)
}

/// `vault kv get -format=json secret/x`: KV v2 (`data.data`, next to `data.metadata`) or v1
/// (`data`).
pub fn vault_kv(text: &str) -> Result<Parsed, String> {
    let mut v = WipeJson(parse_json(text)?);
    let shape = "expected the output of `vault kv get -format=json`: {\"data\": {\"data\": {…}, \
                 \"metadata\": {…}}} (KV v2) or {\"data\": {…}} (KV v1)";
    let Some(Value::Object(data)) = v.0.get_mut("data") else {
        return Err(shape.to_owned());
    };
    let v2 = matches!(data.get("data"), Some(Value::Object(_)))
        && matches!(data.get("metadata"), Some(Value::Object(_)));
    let mut parsed = Parsed::default();
    if v2 {
        let Some(Value::Object(inner)) = data.get_mut("data") else {
            unreachable!("checked above");
        };
        flat_object(inner, "data.data", &mut parsed)?;
    } else {
        flat_object(data, "data", &mut parsed)?;
    }
    Ok(parsed)
}

/// Bitwarden's unencrypted JSON export: logins (type 1) with a password become `password`
/// secrets, secure notes (type 2) `note` secrets, both named from the item's name; other items are
/// skipped with a sentence each.
pub fn bitwarden(text: &str) -> Result<Parsed, String> {
    let mut v = WipeJson(parse_json(text)?);
    if v.0.get("encrypted") == Some(&Value::Bool(true)) {
        return Err(
            "this is an encrypted Bitwarden export (\"encrypted\": true), which Coffer \
                    cannot read: export the vault again with the file format \".json\", not \
                    \".json (Encrypted)\", and delete the file after importing"
                .to_owned(),
        );
    }
    let Some(Value::Array(items)) = v.0.get_mut("items") else {
        return Err(
            "expected Bitwarden's JSON export: {\"encrypted\": false, \"items\": [...]}".to_owned(),
        );
    };
    let mut parsed = Parsed::default();
    for (idx, item) in items.iter_mut().enumerate() {
        let name = match item.get("name") {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(format!("items[{idx}]: the item has no name")),
        };
        let source = format!("item {name:?} (items[{idx}])");
        let kind = item.get("type").and_then(Value::as_u64);
        let take = |v: Option<&mut Value>| match v {
            Some(Value::String(s)) if !s.is_empty() => Some(Zeroizing::new(std::mem::take(s))),
            _ => None,
        };
        match kind {
            Some(1) => {
                let password = take(item.get_mut("login").and_then(|l| l.get_mut("password")));
                match password {
                    Some(p) => parsed
                        .entries
                        .push(entry(&name, p, KindArg::Password, source)),
                    None => parsed
                        .skipped
                        .push(format!("{source}: a login without a password")),
                }
            }
            Some(2) => match take(item.get_mut("notes")) {
                Some(n) => parsed.entries.push(entry(&name, n, KindArg::Note, source)),
                None => parsed
                    .skipped
                    .push(format!("{source}: a secure note without text")),
            },
            Some(3) => parsed
                .skipped
                .push(format!("{source}: cards are not imported")),
            Some(4) => parsed
                .skipped
                .push(format!("{source}: identities are not imported")),
            Some(5) => parsed
                .skipped
                .push(format!("{source}: SSH keys are not imported")),
            _ => parsed
                .skipped
                .push(format!("{source}: an item of an unknown type")),
        }
    }
    Ok(parsed)
}

/// A parsed JSON document whose strings are wiped when it drops (best effort: the parser's own
/// temporary buffers are not reachable).
struct WipeJson(Value);

impl Drop for WipeJson {
    fn drop(&mut self) {
        fn wipe(v: &mut Value) {
            match v {
                Value::String(s) => s.zeroize(),
                Value::Array(a) => a.iter_mut().for_each(wipe),
                Value::Object(o) => o.values_mut().for_each(wipe),
                _ => {}
            }
        }
        wipe(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = include_str!("../../tests/import/sample.env");
    const JSON: &str = include_str!("../../tests/import/sample.json");
    const VAULT: &str = include_str!("../../tests/import/vault-kv-v2.json");
    const VAULT_V1: &str = include_str!("../../tests/import/vault-kv-v1.json");
    const BITWARDEN: &str = include_str!("../../tests/import/bitwarden.json");

    fn values(p: &Parsed) -> Vec<(&str, &str)> {
        p.entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect()
    }

    fn refused(format: ImportFormat, text: &str) -> String {
        match parse(format, text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(problems) => problems.join("\n"),
        }
    }

    #[test]
    fn dotenv_sample_every_syntax() {
        let p = parse(ImportFormat::Dotenv, ENV).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            values(&p),
            vec![
                ("db-host", "db.internal.example.com"),
                ("db-password", "hunter2"),
                ("api-token", "tok_live_51Hx"),
                ("single-quoted", "no $expansion \\n here"),
                ("double-quoted", "tab\there \"quoted\" back\\slash $HOME"),
                ("with-comment", "value"),
                ("hash-inside", "pa#ss"),
                ("spaced", "a b  c"),
                ("multi-line", "-----BEGIN KEY-----\nabc\n-----END KEY-----"),
                ("after-multi", "x"),
                ("crlf", "windows"),
            ]
        );
        assert!(
            p.entries
                .iter()
                .all(|e| matches!(e.kind, KindArg::Password))
        );
        assert_eq!(p.entries[1].source, "line 4");
    }

    #[test]
    fn dotenv_refusals_name_the_line() {
        let e = refused(ImportFormat::Dotenv, "A=1\n# c\nnot a pair\n");
        assert_eq!(e, "line 3: expected KEY=value");
        let e = refused(ImportFormat::Dotenv, "A=1\nB=\"open\nstill\n");
        assert!(
            e.starts_with("line 2: the double quote of B is never closed"),
            "{e}"
        );
        let e = refused(ImportFormat::Dotenv, "A=1\nB='x' y\n");
        assert!(e.starts_with("line 2: unexpected text"), "{e}");
        let e = refused(ImportFormat::Dotenv, "A=1\n\nEMPTY=\n");
        assert!(e.starts_with("line 3: \"EMPTY\" has an empty value"), "{e}");
        let e = refused(ImportFormat::Dotenv, "DB_PASSWORD=a\ndb-password=b\n");
        assert_eq!(
            e,
            "line 2: \"db-password\" maps to the secret name \"db-password\", like line 1"
        );
        let e = refused(ImportFormat::Dotenv, "_LEADING=a\n");
        assert!(
            e.starts_with(
                "line 1: \"_LEADING\" maps to the secret name \"-leading\", which is not valid"
            ),
            "{e}"
        );
        let e = refused(ImportFormat::Dotenv, "BAD KEY=a\n");
        assert!(e.starts_with("line 1: expected KEY=value"), "{e}");
    }

    #[test]
    fn json_sample_and_refusals() {
        let p = parse(ImportFormat::Json, JSON).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            values(&p),
            vec![
                ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE"),
                (
                    "aws-secret-access-key",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
                ),
                ("stripe-key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
            ]
        );
        let e = refused(ImportFormat::Json, r#"{"A": "x", "PORT": 5432}"#);
        assert_eq!(
            e,
            "key \"PORT\" ($.PORT): the value is a number, expected a string"
        );
        let e = refused(ImportFormat::Json, r#"["a"]"#);
        assert!(e.contains("expected a JSON object"), "{e}");
        let e = refused(ImportFormat::Json, "{\"A\": \"secret\"");
        assert!(e.starts_with("not valid JSON (line 1"), "{e}");
        assert!(!e.contains("secret"), "must not echo values: {e}");
        let e = refused(ImportFormat::Json, r#"{"A": "", "b c!": "x"}"#);
        assert!(
            e.contains("key \"A\" ($.A): \"A\" has an empty value"),
            "{e}"
        );
        assert!(
            e.contains("key \"b c!\" ($.b c!): \"b c!\" maps to the secret name \"b-c!\""),
            "{e}"
        );
    }

    #[test]
    fn vault_kv_v2_and_v1() {
        let p = parse(ImportFormat::VaultKv, VAULT).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            values(&p),
            vec![("db-password", "Zx9-vault-pw"), ("db-user", "app")]
        );
        assert_eq!(
            p.entries[0].source,
            "key \"DB_PASSWORD\" (data.data.DB_PASSWORD)"
        );
        let p = parse(ImportFormat::VaultKv, VAULT_V1).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(values(&p), vec![("api-key", "v1-key-123")]);
        let e = refused(
            ImportFormat::VaultKv,
            r#"{"data": {"data": {"ttl": 30}, "metadata": {"version": 1}}}"#,
        );
        assert_eq!(
            e,
            "key \"ttl\" (data.data.ttl): the value is a number, expected a string"
        );
        let e = refused(ImportFormat::VaultKv, r#"{"keys": []}"#);
        assert!(e.contains("vault kv get -format=json"), "{e}");
    }

    #[test]
    fn bitwarden_sample_and_refusals() {
        let p = parse(ImportFormat::BitwardenJson, BITWARDEN).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            values(&p),
            vec![
                ("github-deploy", "ghp-Sd8f7Gh2kL"),
                ("prod-db", "Pg!pr0d#2024"),
                ("recovery-codes", "1111-2222\n3333-4444"),
            ]
        );
        assert!(matches!(p.entries[2].kind, KindArg::Note));
        assert_eq!(p.skipped.len(), 3, "{:?}", p.skipped);
        assert!(p.skipped[0].contains("\"Empty login\""), "{:?}", p.skipped);
        let e = refused(
            ImportFormat::BitwardenJson,
            r#"{"encrypted": true, "encKeyValidation_DO_NOT_EDIT": "2.x", "items": []}"#,
        );
        assert!(
            e.starts_with("this is an encrypted Bitwarden export"),
            "{e}"
        );
        let e = refused(
            ImportFormat::BitwardenJson,
            r#"{"encrypted": false, "items": [
                {"type": 1, "name": "Prod DB", "login": {"password": "a"}},
                {"type": 1, "name": "prod_db", "login": {"password": "b"}}]}"#,
        );
        assert_eq!(
            e,
            "item \"prod_db\" (items[1]): \"prod_db\" maps to the secret name \"prod-db\", like item \"Prod DB\" (items[0])"
        );
        let e = refused(
            ImportFormat::BitwardenJson,
            r#"{"encrypted": false, "items": [{"type": 2, "name": "Wi-Fi (office)", "notes": "x"}]}"#,
        );
        assert!(e.starts_with("item \"Wi-Fi (office)\" (items[0]): "), "{e}");
    }

    #[test]
    fn names() {
        assert_eq!(secret_name("DB_PASSWORD"), "db-password");
        assert_eq!(secret_name("GitHub Deploy"), "github-deploy");
        assert_eq!(secret_name("api.key"), "api.key");
        assert!(valid_name("db-password"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(129)));
    }
}
