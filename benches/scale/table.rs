//! The benchmark's one table, and how its numbers are written.

use std::fmt;
use std::time::Duration;

const COLUMNS: usize = 7;
/// Columns holding numbers are right-aligned.
const NUMERIC: [bool; COLUMNS] = [false, true, true, true, true, false, false];

pub struct Table {
    header: [String; COLUMNS],
    rows: Vec<[String; COLUMNS]>,
}

impl Table {
    pub fn new(header: [&str; COLUMNS]) -> Table {
        Table {
            header: header.map(str::to_string),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: [String; COLUMNS]) {
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths = [0; COLUMNS];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, row: &[String; COLUMNS]| -> fmt::Result {
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                if i > 0 {
                    text.push_str("  ");
                }
                if NUMERIC[i] {
                    text.push_str(&pad);
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&pad);
                }
            }
            writeln!(f, "{}", text.trim_end())
        };
        line(f, &self.header)?;
        let rule = widths.map(|w| "-".repeat(w));
        line(f, &rule)?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

/// `12,345`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds below a second, seconds above.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

pub fn per_second(n: usize, d: Duration) -> String {
    count((n as f64 / d.as_secs_f64().max(1e-9)).round() as usize)
}

/// Decimal megabytes, as the 300 MB target is written.
pub fn megabytes(bytes: u64) -> String {
    format!("{} MB", count((bytes as f64 / 1e6).round() as usize))
}
