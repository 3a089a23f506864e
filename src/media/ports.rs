//! RTP port allocator: hands out even RTP ports (RTCP on port + 1) from the configured
//! range and takes them back on hangup.
//!
//! Free ports wait in a FIFO queue, so a port released by a finished call goes to the
//! back and is reused only after every other free port: late RTP of the old call then
//! cannot land in a new call. Allocation and release are O(1).

use std::collections::VecDeque;

/// A configured RTP port range that cannot hold even one RTP/RTCP pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("RTP port range {lo}-{hi} is inverted: the low port must not exceed the high port")]
    Inverted { lo: u16, hi: u16 },
    #[error("RTP port range {lo}-{hi} starts at port 0: use ports from 1024 up, e.g. 10000-20000")]
    ZeroPort { lo: u16, hi: u16 },
    #[error(
        "RTP port range {lo}-{hi} holds no even RTP port with its RTCP port (+1) inside it: \
         widen it, e.g. 10000-20000"
    )]
    NoPair { lo: u16, hi: u16 },
}

/// Even RTP ports from `lo..=hi`, handed out round-robin.
#[derive(Debug, Clone)]
pub struct RtpPorts {
    /// First even port of the range (slot 0).
    base: u16,
    /// Free slots, oldest-freed first.
    free: VecDeque<u16>,
    /// `in_use[slot]`: whether `base + 2 * slot` is handed out.
    in_use: Vec<bool>,
    used: usize,
}

impl RtpPorts {
    /// Even ports only (RTP even, RTCP = +1), from `lo..=hi`. An odd `lo` starts at the
    /// next even port; an even port whose RTCP port would fall past `hi` is left out.
    /// Errors when the range is inverted, starts at 0, or holds no full pair.
    pub fn new(lo: u16, hi: u16) -> Result<Self, PortRangeError> {
        if lo > hi {
            return Err(PortRangeError::Inverted { lo, hi });
        }
        if lo == 0 {
            return Err(PortRangeError::ZeroPort { lo, hi });
        }
        // u32 so that lo = 65535 rounds up without overflow.
        let base = u32::from(lo).next_multiple_of(2);
        let hi32 = u32::from(hi);
        if base + 1 > hi32 {
            return Err(PortRangeError::NoPair { lo, hi });
        }
        let slots = ((hi32 - 1 - base) / 2 + 1) as usize;
        let base = base as u16; // base + 1 <= hi <= u16::MAX, so it fits
        Ok(Self {
            base,
            free: (0..slots as u16).collect(),
            in_use: vec![false; slots],
            used: 0,
        })
    }

    /// Next free even port, round-robin so a just-freed port is not reused at once
    /// (late packets of the old call); `None` when every port is in use.
    pub fn allocate(&mut self) -> Option<u16> {
        let slot = self.free.pop_front()?;
        self.in_use[usize::from(slot)] = true;
        self.used += 1;
        Some(self.base + 2 * slot)
    }

    /// Gives `port` back. Ports not handed out by this allocator (outside the range, odd,
    /// or already free) are ignored, so a double hangup cannot corrupt the free list.
    pub fn release(&mut self, port: u16) {
        let Some(slot) = self.slot(port) else {
            return;
        };
        let Some(used) = self.in_use.get_mut(usize::from(slot)) else {
            return;
        };
        if !*used {
            return;
        }
        *used = false;
        self.used -= 1;
        self.free.push_back(slot);
    }

    /// Ports currently handed out.
    pub fn in_use(&self) -> usize {
        self.used
    }

    /// How many RTP ports (calls' audio streams) the range holds.
    pub fn capacity(&self) -> usize {
        self.in_use.len()
    }

    fn slot(&self, port: u16) -> Option<u16> {
        let offset = port.checked_sub(self.base)?;
        (offset % 2 == 0).then_some(offset / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_with_rtcp_inside_the_range() {
        let mut p = RtpPorts::new(10001, 10007).unwrap();
        // 10002/3, 10004/5, 10006/7 fit; odd lo rounds up.
        assert_eq!(p.capacity(), 3);
        assert_eq!(p.allocate(), Some(10002));
        assert_eq!(p.allocate(), Some(10004));
        assert_eq!(p.allocate(), Some(10006));
        assert_eq!(p.allocate(), None);
        assert_eq!(p.in_use(), 3);

        // 10006 would need RTCP on 10007 > hi.
        let p = RtpPorts::new(10000, 10006).unwrap();
        assert_eq!(p.capacity(), 3);
    }

    #[test]
    fn exhaustion_then_release_makes_room() {
        let mut p = RtpPorts::new(20000, 20003).unwrap();
        assert_eq!(p.capacity(), 2);
        assert_eq!(p.allocate(), Some(20000));
        assert_eq!(p.allocate(), Some(20002));
        assert_eq!(p.allocate(), None);
        p.release(20000);
        assert_eq!(p.in_use(), 1);
        assert_eq!(p.allocate(), Some(20000));
        assert_eq!(p.allocate(), None);
    }

    #[test]
    fn released_port_goes_to_the_back_of_the_queue() {
        let mut p = RtpPorts::new(30000, 30009).unwrap(); // 5 ports
        let a = p.allocate().unwrap();
        assert_eq!(a, 30000);
        p.release(a);
        // The other four free ports come first, then the released one.
        let next: Vec<u16> = (0..5).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(next, vec![30002, 30004, 30006, 30008, 30000]);
        // Release order is reuse order.
        p.release(30006);
        p.release(30002);
        assert_eq!(p.allocate(), Some(30006));
        assert_eq!(p.allocate(), Some(30002));
    }

    #[test]
    fn double_and_foreign_release_are_ignored() {
        let mut p = RtpPorts::new(40000, 40005).unwrap(); // 40000, 40002, 40004
        let a = p.allocate().unwrap();
        p.release(a);
        p.release(a);
        assert_eq!(p.in_use(), 0);
        // Not handed out / odd / outside the range: no effect.
        p.release(40002);
        p.release(40001);
        p.release(39998);
        p.release(40006);
        p.release(0);
        p.release(u16::MAX);
        assert_eq!(p.in_use(), 0);
        let all: Vec<u16> = std::iter::from_fn(|| p.allocate()).collect();
        assert_eq!(all, vec![40002, 40004, 40000]);
        assert_eq!(p.in_use(), 3);
    }

    #[test]
    fn bad_ranges() {
        assert_eq!(
            RtpPorts::new(20000, 10000).unwrap_err(),
            PortRangeError::Inverted {
                lo: 20000,
                hi: 10000
            }
        );
        assert_eq!(
            RtpPorts::new(0, 100).unwrap_err(),
            PortRangeError::ZeroPort { lo: 0, hi: 100 }
        );
        // One port, or an odd-even pair the wrong way round: no RTP/RTCP pair.
        assert!(matches!(
            RtpPorts::new(10000, 10000),
            Err(PortRangeError::NoPair { .. })
        ));
        assert!(matches!(
            RtpPorts::new(10001, 10002),
            Err(PortRangeError::NoPair { .. })
        ));
        assert!(matches!(
            RtpPorts::new(65535, 65535),
            Err(PortRangeError::NoPair { .. })
        ));
        assert!(
            RtpPorts::new(20000, 10000)
                .unwrap_err()
                .to_string()
                .contains("inverted")
        );
    }

    #[test]
    fn top_of_the_port_space() {
        let mut p = RtpPorts::new(65530, 65535).unwrap();
        assert_eq!(p.capacity(), 3);
        let all: Vec<u16> = std::iter::from_fn(|| p.allocate()).collect();
        assert_eq!(all, vec![65530, 65532, 65534]);
        let full = RtpPorts::new(1, u16::MAX).unwrap();
        assert_eq!(full.capacity(), 32767);
    }
}
