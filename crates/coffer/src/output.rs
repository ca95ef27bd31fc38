//! Human output: aligned tables on stdout and compact UTC timestamps. Machine output is `--json`
//! (see [`crate::client::Body::print_json`]); tables are for eyes, not for parsing.

use time::OffsetDateTime;
use time::macros::format_description;

/// A table with a header row; columns are padded to their widest cell.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Appends a row (as many cells as headers).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// True when only the header row is present.
    pub fn is_empty(&self) -> bool {
        self.rows.len() == 1
    }

    /// Renders the table; the last column is not padded and lines carry no trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths[c] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table on stdout, or `empty` on stderr when there are no rows.
    pub fn print_or(&self, empty: &str) {
        if self.is_empty() {
            eprintln!("{empty}");
        } else {
            print!("{}", self.render());
        }
    }
}

/// `2024-05-01 12:34:56Z` (always UTC, second precision).
pub fn time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| t.to_string())
}

/// [`time`] for an optional timestamp, `-` when absent.
pub fn opt_time(t: Option<OffsetDateTime>) -> String {
    t.map(time).unwrap_or_else(|| "-".to_owned())
}

/// The lowercase wire name of a serde enum value (e.g. `SecretKind::Kv` → `kv`).
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_all_but_last_column() {
        let mut t = Table::new(&["A", "LONG"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "A    LONG\nxyz  1\n");
    }

    #[test]
    fn time_is_utc() {
        let t = OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(time(t), "1970-01-01 00:00:00Z");
    }
}
