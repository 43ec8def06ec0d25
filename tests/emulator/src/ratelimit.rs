//! Per-credential rate limiting with Cloudflare's headers: a fixed window of
//! `RateLimit::requests` per `RateLimit::window`; the request past the budget answers 429
//! and blocks *every* call of that credential for `RateLimit::block` (Cloudflare: 5 min).
//! Windows run on the real monotonic clock, not on `World::now`, so tests use short ones.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::world::RateLimit;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    window_start: Instant,
    used: u32,
    blocked_until: Option<Instant>,
}

/// The verdict for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// `None` when allowed; otherwise seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// Headers every response carries: (`Ratelimit`, `Ratelimit-Policy`).
    pub headers: [(&'static str, String); 2],
}

/// Buckets by credential key.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<String, Bucket>,
}

fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs();
    if d.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    }
}

impl Limiter {
    /// Counts one request of `key` against `limit`.
    pub fn check(&mut self, key: &str, limit: RateLimit, now: Instant) -> Verdict {
        let bucket = self.buckets.entry(key.to_string()).or_insert(Bucket {
            window_start: now,
            used: 0,
            blocked_until: None,
        });
        let policy = format!(
            "\"default\";q={};w={}",
            limit.requests,
            limit.window.as_secs()
        );
        if let Some(until) = bucket.blocked_until {
            if until > now {
                let wait = ceil_secs(until - now).max(1);
                return blocked(wait, policy);
            }
            *bucket = Bucket {
                window_start: now,
                used: 0,
                blocked_until: None,
            };
        }
        if now.duration_since(bucket.window_start) >= limit.window {
            bucket.window_start = now;
            bucket.used = 0;
        }
        bucket.used += 1;
        if bucket.used > limit.requests {
            bucket.blocked_until = Some(now + limit.block);
            return blocked(ceil_secs(limit.block).max(1), policy);
        }
        let remaining = limit.requests - bucket.used;
        let reset = ceil_secs(
            limit
                .window
                .saturating_sub(now.duration_since(bucket.window_start)),
        );
        Verdict {
            retry_after: None,
            headers: [
                ("ratelimit", format!("\"default\";r={remaining};t={reset}")),
                ("ratelimit-policy", policy),
            ],
        }
    }
}

fn blocked(wait: u64, policy: String) -> Verdict {
    Verdict {
        retry_after: Some(wait),
        headers: [
            ("ratelimit", format!("\"default\";r=0;t={wait}")),
            ("ratelimit-policy", policy),
        ],
    }
}
