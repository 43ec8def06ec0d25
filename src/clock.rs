//! The one clock (issue 10). Every notion of "now" — evaluation time, report and snapshot
//! times, replacement expiry, the "is this token expired" guards, journal and escrow
//! timestamps — comes from a [`Clock`] that the command line sets with `--now RFC3339`.
//! This is the only module that reads the wall clock; a unit test below fails if any other
//! file under `src/` does. Monotonic `Instant`s (pacing, timeouts) are not the wall clock
//! and may be used anywhere.

use chrono::{DateTime, Utc};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// `--now` was given: every reading is this instant, so a run is reproducible.
    Fixed(DateTime<Utc>),
    /// No `--now`: the system's wall clock, read on every call.
    System,
}

/// `--now` that is not an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("--now {value:?} is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z): {source}")]
pub struct ClockError {
    pub value: String,
    pub source: chrono::ParseError,
}

impl Clock {
    /// The clock for a `--now` argument: fixed when given, the system clock otherwise.
    pub fn from_arg(now: Option<&str>) -> Result<Clock, ClockError> {
        match now {
            None => Ok(Clock::System),
            Some(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Clock::Fixed(t.with_timezone(&Utc)))
                .map_err(|source| ClockError {
                    value: s.to_string(),
                    source,
                }),
        }
    }

    /// The current time by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Fixed(t) => *t,
            Clock::System => Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_always_reads_the_same_instant() {
        let c = Clock::from_arg(Some("2026-11-22T11:00:00+01:00")).unwrap();
        assert_eq!(c.now().to_rfc3339(), "2026-11-22T10:00:00+00:00");
        assert_eq!(c.now(), c.now());
    }

    #[test]
    fn without_now_the_system_clock_is_used() {
        assert_eq!(Clock::from_arg(None).unwrap(), Clock::System);
    }

    #[test]
    fn a_malformed_now_names_the_value() {
        for bad in ["2026-11-22", "yesterday", "2026-11-22 10:00:00", ""] {
            let e = Clock::from_arg(Some(bad)).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    /// Library code reads the wall clock only here; everything else is handed a `Clock` or
    /// a `now`, so no result depends on the day the suite runs.
    #[test]
    fn no_other_source_file_reads_the_wall_clock() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let needles = ["Utc::now(", "Local::now(", "SystemTime::now(", "UNIX_EPOCH"];
        let mut offenders = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("clock.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, line) in text.lines().enumerate() {
                    if needles.iter().any(|n| line.contains(n)) {
                        offenders.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "only src/clock.rs may read the wall clock:\n{}",
            offenders.join("\n")
        );
    }
}
