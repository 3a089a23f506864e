//! Per-source-IP token buckets for untrusted senders (scanners, misconfigured phones).
//! Trunk peers are never limited: a carrier at 1000 CPS must not be throttled here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: HashMap<IpAddr, Bucket>,
    last_sweep: Option<Instant>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_second == 0` turns limiting off.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: per_second as f64,
            burst: burst.max(1) as f64,
            buckets: HashMap::new(),
            last_sweep: None,
        }
    }

    /// True when a message from `ip` may be processed now.
    pub fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.per_second <= 0.0 {
            return true;
        }
        self.sweep(now);
        let (rate, burst) = (self.per_second, self.burst);
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forget full buckets now and then so a scan from many addresses cannot grow memory.
    fn sweep(&mut self, now: Instant) {
        let due = self
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t).as_secs() >= 10);
        if !due {
            return;
        }
        self.last_sweep = Some(now);
        let (rate, burst) = (self.per_second, self.burst);
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }

    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut rl = RateLimiter::new(10, 5);
        assert_eq!((0..8).filter(|_| rl.allow(t0, ip)).count(), 5);
        assert!(rl.allow(t0 + Duration::from_millis(100), ip));
        assert!(!rl.allow(t0 + Duration::from_millis(100), ip));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(rl.allow(t0, other), "buckets are per source");
    }

    #[test]
    fn zero_rate_is_off_and_idle_buckets_are_swept() {
        let t0 = Instant::now();
        let mut off = RateLimiter::new(0, 0);
        assert!((0..1000).all(|_| off.allow(t0, "192.0.2.9".parse().unwrap())));
        let mut rl = RateLimiter::new(10, 5);
        for i in 0..100u8 {
            rl.allow(t0, IpAddr::from([192, 0, 2, i]));
        }
        assert_eq!(rl.tracked(), 100);
        rl.allow(
            t0 + Duration::from_secs(20),
            "198.51.100.1".parse().unwrap(),
        );
        assert_eq!(rl.tracked(), 1);
    }
}
