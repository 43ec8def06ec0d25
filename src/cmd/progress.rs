//! Progress on stderr while the inventory is collected: a bar on a terminal (owners done,
//! requests used, waits for the rate limit), plain lines with `-v` elsewhere, nothing
//! otherwise. Never on stdout, which carries reports. The collector reports through its
//! `CollectObserver` trait; this is the command layer's implementation of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::io::Write;

use tokenwarden::cloudflare::pacer::StatsSnapshot;
use tokenwarden::cloudflare::CollectObserver;
use tokenwarden::scope::ScopePath;

#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: AtomicUsize,
    done: AtomicUsize,
    last: Mutex<StatsSnapshot>,
}

impl Progress {
    /// `bar`: draw a bar (stderr is a terminal and not `-q`); `lines`: print a line per
    /// owner instead (`-v` off a terminal).
    pub fn new(bar: bool, lines: bool) -> Progress {
        let bar = bar.then(|| {
            let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} owners {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        Progress {
            bar,
            lines,
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            last: Mutex::new(StatsSnapshot::default()),
        }
    }
}

/// A line on stderr; a closed stderr is ignored.
fn line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

impl CollectObserver for Progress {
    fn add_owners(&self, n: usize) {
        let total = self.total.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(b) = &self.bar {
            b.set_length(total as u64);
        }
    }

    fn owner_done(&self, scope: &ScopePath, outcome: &str) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
        }
        if self.lines {
            line(&format!(
                "[{done}/{}] {scope}: {outcome}",
                self.total.load(Ordering::Relaxed)
            ));
        }
    }

    /// Refresh the request counters shown next to the bar.
    fn stats(&self, s: StatsSnapshot) {
        let Some(b) = &self.bar else { return };
        if let Ok(mut last) = self.last.lock() {
            if *last == s {
                return;
            }
            *last = s;
        }
        let mut msg = format!("{} requests", s.requests);
        if s.retries > 0 {
            msg.push_str(&format!(", {} retried", s.retries));
        }
        if s.waits > 0 {
            msg.push_str(&format!(
                ", waited {}× ({:.0} s) for the rate limit",
                s.waits,
                s.waited_ms as f64 / 1000.0
            ));
        }
        b.set_message(msg);
    }

    fn finish(&self, s: StatsSnapshot) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.lines {
            line(&format!(
                "collected with {} requests ({} retried, {} rate-limited, {} waits totalling {:.1} s)",
                s.requests,
                s.retries,
                s.rate_limited,
                s.waits,
                s.waited_ms as f64 / 1000.0
            ));
        }
    }
}
