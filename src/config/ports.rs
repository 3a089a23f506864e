//! `PortRange`: the `LO-HI` syntax shared by `rtp_ports` in hotline.toml and `--rtp-ports`.

use std::fmt;
use std::str::FromStr;

/// An inclusive UDP port range such as 20000-29999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub const DEFAULT: PortRange = PortRange {
        lo: 20000,
        hi: 29999,
    };

    /// How many ports the range holds.
    pub fn len(&self) -> u32 {
        u32::from(self.hi.saturating_sub(self.lo)) + 1
    }

    /// Always false for a parsed range; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.hi < self.lo
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange::DEFAULT
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lo, self.hi)
    }
}

/// Why a port range did not parse; Display says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("\"{0}\" is not a port range; expected LO-HI such as 20000-29999")]
    Syntax(String),
    #[error("port 0 cannot be used; expected LO-HI such as 20000-29999")]
    Zero,
    #[error(
        "{lo}-{hi} is backwards or too small: RTP needs at least 2 ports (RTP and RTCP); \
         expected LO-HI with LO < HI such as 20000-29999"
    )]
    TooSmall { lo: u16, hi: u16 },
}

impl FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || PortRangeError::Syntax(s.to_string());
        let (lo, hi) = s.split_once('-').ok_or_else(syntax)?;
        let lo: u16 = lo.trim().parse().map_err(|_| syntax())?;
        let hi: u16 = hi.trim().parse().map_err(|_| syntax())?;
        if lo == 0 || hi == 0 {
            return Err(PortRangeError::Zero);
        }
        if hi <= lo {
            return Err(PortRangeError::TooSmall { lo, hi });
        }
        Ok(PortRange { lo, hi })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lo_hi() {
        assert_eq!(
            "20000-29999".parse::<PortRange>(),
            Ok(PortRange {
                lo: 20000,
                hi: 29999
            })
        );
        assert_eq!(
            " 1000 - 1001 ".parse::<PortRange>(),
            Ok(PortRange { lo: 1000, hi: 1001 })
        );
    }

    #[test]
    fn rejects_bad_ranges_with_an_example() {
        let e = "20000".parse::<PortRange>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"20000\" is not a port range; expected LO-HI such as 20000-29999"
        );
        assert!(matches!(
            "a-b".parse::<PortRange>(),
            Err(PortRangeError::Syntax(_))
        ));
        assert!(matches!(
            "1-70000".parse::<PortRange>(),
            Err(PortRangeError::Syntax(_))
        ));
        assert_eq!("0-10".parse::<PortRange>(), Err(PortRangeError::Zero));
        assert_eq!(
            "3000-2000".parse::<PortRange>(),
            Err(PortRangeError::TooSmall { lo: 3000, hi: 2000 })
        );
        assert!(matches!(
            "3000-3000".parse::<PortRange>(),
            Err(PortRangeError::TooSmall { .. })
        ));
    }

    #[test]
    fn len_contains_display() {
        let r = PortRange::DEFAULT;
        assert_eq!(r.len(), 10000);
        assert!(!r.is_empty());
        assert!(r.contains(20000) && r.contains(29999));
        assert!(!r.contains(19999) && !r.contains(30000));
        assert_eq!(r.to_string(), "20000-29999");
    }
}
