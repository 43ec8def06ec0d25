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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::testkit::*;
    use crate::{Emulator, RateLimit};

    #[tokio::test]
    async fn rate_limit_blocks_every_call_of_the_credential() {
        let mut world = base_world();
        world.rate_limit =
            Some(RateLimit::new(3, Duration::from_secs(60)).block_for(Duration::from_secs(1)));
        let emu = Emulator::start(world);
        let api = Api::new(&emu);
        let scan = Cred::Bearer(SCANNER_SECRET);
        for remaining in [2, 1, 0] {
            let r = api.get("/user/tokens", scan).await;
            assert_eq!(r.status, 200);
            assert_eq!(
                r.header("ratelimit"),
                Some(format!("\"default\";r={remaining};t=60").as_str())
            );
            assert_eq!(r.header("ratelimit-policy"), Some("\"default\";q=3;w=60"));
        }
        let limited = api.get("/user/tokens", scan).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("retry-after"), Some("1"));
        assert!(limited.header("ratelimit").is_some());
        let other_endpoint = api.get(&format!("/accounts/{ACC_A}/tokens"), scan).await;
        assert_eq!(other_endpoint.status, 429, "every call is blocked");
        assert_eq!(
            api.get("/user/tokens", Cred::Bearer(WRITER_SECRET))
                .await
                .status,
            200,
            "per credential"
        );
        assert_eq!(emu.too_many_requests(), 2);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let after = api.get("/user/tokens", scan).await;
        assert_eq!(after.status, 200, "the block ends");
        assert_eq!(
            after.header("ratelimit"),
            Some("\"default\";r=2;t=60"),
            "with a fresh window"
        );
    }

    #[tokio::test]
    async fn no_rate_limit_by_default() {
        let emu = Emulator::start(base_world());
        let api = Api::new(&emu);
        for _ in 0..30 {
            let r = api
                .get("/user/tokens/verify", Cred::Bearer(SCANNER_SECRET))
                .await;
            assert_eq!(r.status, 200);
            assert!(r.header("ratelimit").is_none());
        }
        assert_eq!(emu.too_many_requests(), 0);
    }
}
