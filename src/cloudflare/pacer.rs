//! Client-side pacing under Cloudflare's rate limit (docs/architecture.md §9: 1200 requests per
//! 5 minutes per credential; past it, HTTP 429 and *every* call blocked for 5 minutes).
//!
//! One [`Pacer`] is shared by every request of a run. It keeps a sliding log of send
//! times so that no window of `window + margin` ever holds more than `requests` sends,
//! slows down when the server's `Ratelimit` header says the remaining quota is low,
//! and stops everything until `Retry-After` has passed after a 429.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The range of `--rate-limit`'s request count (README "Numeric limits"): Cloudflare allows
/// 1200 per 5 minutes, so 100,000 is far past any real budget, yet its send log stays small.
pub const BUDGET_REQUESTS: std::ops::RangeInclusive<u32> = 1..=100_000;
/// The range of `--rate-limit`'s window in seconds: a second to a day.
pub const BUDGET_SECONDS: std::ops::RangeInclusive<u64> = 1..=86_400;
/// The longest the server can make the client wait (`Retry-After`, a `Ratelimit` reset):
/// a hostile or broken header must neither overflow a clock nor stall a run for days.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(3600);

/// A request budget: at most `requests` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub requests: u32,
    pub window: Duration,
}

impl Budget {
    /// A safe margin under Cloudflare's 1200 per 300 s.
    pub const DEFAULT: Budget = Budget {
        requests: 1000,
        window: Duration::from_secs(300),
    };

    /// Parse `N/SECONDS` (e.g. `1000/300`), N in [`BUDGET_REQUESTS`] and SECONDS in
    /// [`BUDGET_SECONDS`] (issue 12: `1/18446744073709551615` overflowed the clock and
    /// `4294967295/1` asked for 64 GiB).
    pub fn parse(s: &str) -> Result<Budget, BudgetError> {
        let bad = |reason: &'static str| BudgetError {
            value: s.to_string(),
            reason,
        };
        let shape = || bad("expected REQUESTS/SECONDS, e.g. 1000/300");
        let (n, w) = s.split_once('/').ok_or_else(shape)?;
        let requests: u64 = n.trim().parse().map_err(|_| shape())?;
        let secs: u64 = w.trim().parse().map_err(|_| shape())?;
        if requests == 0 || secs == 0 {
            return Err(bad("both numbers must be positive"));
        }
        let requests = u32::try_from(requests)
            .ok()
            .filter(|r| BUDGET_REQUESTS.contains(r))
            .ok_or_else(|| bad("REQUESTS must be 1 to 100000"))?;
        if !BUDGET_SECONDS.contains(&secs) {
            return Err(bad("SECONDS must be 1 to 86400 (a day)"));
        }
        Ok(Budget {
            requests,
            window: Duration::from_secs(secs),
        })
    }
}

/// A `--rate-limit` value that is not a budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate limit {value:?}: {reason}")]
pub struct BudgetError {
    pub value: String,
    pub reason: &'static str,
}

/// Counters for progress reports and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub waits: AtomicU64,
    pub waited_ms: AtomicU64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            waited_ms: self.waited_ms.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// GETs sent again after a 5xx, a timeout or a connection error.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Times a request waited for the budget, the server's quota or a Retry-After.
    pub waits: u64,
    pub waited_ms: u64,
}

#[derive(Debug)]
struct State {
    sent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Pacer {
    budget: Budget,
    /// Added to the window: send times are measured here, the server counts arrivals.
    margin: Duration,
    /// Pause when the server reports this many requests left or fewer.
    reserve: u64,
    state: Mutex<State>,
    pub stats: Stats,
}

impl Pacer {
    pub fn new(budget: Budget, reserve: u64) -> Pacer {
        Pacer {
            budget,
            margin: Duration::from_secs(1),
            reserve,
            state: Mutex::new(State {
                // The log grows as requests are sent; most runs send far fewer than allowed.
                sent: VecDeque::with_capacity((budget.requests as usize).min(1024)),
                blocked_until: None,
            }),
            stats: Stats::default(),
        }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Wait until a request may be sent, and record it as sent.
    pub async fn acquire(&self) {
        let mut waited = false;
        loop {
            let wait_until = {
                let Ok(mut st) = self.state.lock() else {
                    return;
                };
                let now = Instant::now();
                // A budget built in code skips `Budget::parse`: bound it here as well.
                let span = self
                    .budget
                    .window
                    .min(Duration::from_secs(*BUDGET_SECONDS.end()))
                    + self.margin;
                while st
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= span)
                {
                    st.sent.pop_front();
                }
                match st.blocked_until {
                    Some(until) if until > now => Some(until),
                    _ => {
                        st.blocked_until = None;
                        if st.sent.len() >= self.budget.requests as usize {
                            st.sent.front().map(|t| *t + span)
                        } else {
                            st.sent.push_back(now);
                            None
                        }
                    }
                }
            };
            match wait_until {
                None => {
                    self.stats.requests.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(until) => {
                    if !waited {
                        waited = true;
                        self.stats.waits.fetch_add(1, Ordering::Relaxed);
                    }
                    let ms = until.saturating_duration_since(Instant::now()).as_millis() as u64;
                    self.stats.waited_ms.fetch_add(ms, Ordering::Relaxed);
                    tokio::time::sleep_until(until).await;
                }
            }
        }
    }

    /// Everything waits until `until` (a 429's Retry-After, or a quota about to run out).
    pub fn block_until(&self, until: Instant) {
        if let Ok(mut st) = self.state.lock() {
            if st.blocked_until.is_none_or(|b| b < until) {
                st.blocked_until = Some(until);
            }
        }
    }

    /// Read Cloudflare's `Ratelimit: "default";r=<remaining>;t=<reset seconds>` header and
    /// pause everything until the reset when the remaining quota is down to the reserve.
    pub fn observe(&self, ratelimit_header: Option<&str>) {
        let Some((remaining, reset)) = ratelimit_header.and_then(parse_ratelimit) else {
            return;
        };
        if remaining <= self.reserve {
            let reset = Duration::from_secs(reset).min(MAX_SERVER_WAIT);
            self.block_until(Instant::now() + reset + self.margin);
        }
    }

    pub fn record_429(&self, retry_after: Option<Duration>) {
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let wait = retry_after
            .unwrap_or(self.budget.window)
            .min(MAX_SERVER_WAIT);
        self.block_until(Instant::now() + wait + self.margin);
    }
}

/// `(remaining, reset seconds)` from a `Ratelimit` header value.
pub fn parse_ratelimit(v: &str) -> Option<(u64, u64)> {
    let mut r = None;
    let mut t = None;
    for part in v.split(';') {
        let part = part.trim();
        if let Some(x) = part.strip_prefix("r=") {
            r = x.trim().parse().ok();
        } else if let Some(x) = part.strip_prefix("t=") {
            t = x.trim().parse().ok();
        }
    }
    Some((r?, t?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_parses() {
        assert_eq!(
            Budget::parse("120/30").unwrap(),
            Budget {
                requests: 120,
                window: Duration::from_secs(30)
            }
        );
        assert!(Budget::parse("120").is_err());
        assert!(Budget::parse("0/30").is_err());
        assert!(Budget::parse("a/b").is_err());
    }

    /// Issue 12, item 8: these used to panic (the window overflowed the clock) and abort
    /// (a 64 GiB send log). Now they are refused, and the bounds themselves work.
    #[tokio::test(start_paused = true)]
    async fn budgets_out_of_range_are_refused_and_the_bounds_work() {
        for bad in [
            "1/18446744073709551615",
            "4294967295/1",
            "4294967296/1",
            "100001/300",
            "1000/86401",
            "18446744073709551616/1",
        ] {
            let e = Budget::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        for edge in ["100000/86400", "1/1"] {
            let b = Budget::parse(edge).unwrap();
            let p = Pacer::new(b, 0);
            p.acquire().await;
            p.record_429(None);
            p.acquire().await;
        }
    }

    /// A server's wait is bounded: a huge `Retry-After` or reset neither panics nor stalls
    /// the run past [`MAX_SERVER_WAIT`].
    #[tokio::test(start_paused = true)]
    async fn a_hostile_wait_from_the_server_is_bounded() {
        let p = Pacer::new(Budget::DEFAULT, 5);
        let start = Instant::now();
        p.observe(Some("\"default\";r=0;t=18446744073709551615"));
        p.record_429(Some(Duration::from_secs(u64::MAX)));
        p.acquire().await;
        assert_eq!(
            Instant::now().duration_since(start),
            MAX_SERVER_WAIT + Duration::from_secs(1)
        );
    }

    #[test]
    fn ratelimit_header_parses() {
        assert_eq!(parse_ratelimit("\"default\";r=50;t=30"), Some((50, 30)));
        assert_eq!(parse_ratelimit("\"default\";t=3;r=0"), Some((0, 3)));
        assert_eq!(parse_ratelimit("garbage"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_budget_in_any_window() {
        let p = Pacer::new(
            Budget {
                requests: 5,
                window: Duration::from_secs(10),
            },
            0,
        );
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            p.acquire().await;
            times.push(Instant::now().duration_since(start));
        }
        // 5 at once, the next 5 once the first window (plus margin) has passed, …
        assert_eq!(times[4], Duration::ZERO);
        assert_eq!(times[5], Duration::from_secs(11));
        assert_eq!(times[10], Duration::from_secs(22));
        for (i, t) in times.iter().enumerate().skip(5) {
            assert!(*t - times[i - 5] >= Duration::from_secs(11));
        }
        assert_eq!(p.stats.snapshot().requests, 12);
        assert!(p.stats.snapshot().waits >= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_blocks_everyone_until_retry_after() {
        let p = Pacer::new(Budget::DEFAULT, 0);
        let start = Instant::now();
        p.record_429(Some(Duration::from_secs(7)));
        p.acquire().await;
        assert_eq!(Instant::now().duration_since(start), Duration::from_secs(8));
        assert_eq!(p.stats.snapshot().rate_limited, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_quota_pauses_until_reset() {
        let p = Pacer::new(Budget::DEFAULT, 2);
        let start = Instant::now();
        p.observe(Some("\"default\";r=3;t=20"));
        p.acquire().await;
        assert_eq!(Instant::now(), start, "3 left is above the reserve");
        p.observe(Some("\"default\";r=2;t=20"));
        p.acquire().await;
        assert_eq!(
            Instant::now().duration_since(start),
            Duration::from_secs(21)
        );
    }
}
