//! The exit codes every command shares (README "Exit codes"; docs/architecture.md). The
//! library decides a *verdict* (a scan is complete or not, its gate passes or fails); the
//! command layer maps its one error type onto the same codes in one function.

/// How a run ends, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// The run is complete and nothing fails the gate.
    Ok,
    /// The run is complete and at least one unexempted finding fails the gate.
    Findings,
    /// Usage, configuration, rule or policy error: nothing was evaluated or changed.
    Usage,
    /// A runtime failure: an API error, part of the inventory not evaluated, a write that
    /// failed after the run started, a remediation that failed.
    Runtime,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Findings => 1,
            Exit::Usage => 2,
            Exit::Runtime => 3,
        }
    }
}

impl From<Exit> for u8 {
    fn from(e: Exit) -> u8 {
        e.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_the_documented_ones() {
        let codes: Vec<u8> = [Exit::Ok, Exit::Findings, Exit::Usage, Exit::Runtime]
            .into_iter()
            .map(u8::from)
            .collect();
        assert_eq!(codes, [0, 1, 2, 3]);
    }
}
