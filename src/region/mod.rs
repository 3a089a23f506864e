//! Where a caller is from: mobile numbers by their 7-digit prefix and landlines by area
//! code, from the `phone` package's `phone.dat` (PyPI, fetched by
//! `scripts/fetch-phone-dat.sh`). Its documented layout: a header of a 4-byte version and
//! a little-endian i32 offset of the index; then NUL-terminated records
//! `province|city|zip|area_code`; then the index, 9-byte entries (i32 prefix, i32 record
//! offset, u8 carrier type) sorted by prefix. The area codes of the records themselves
//! give the landline table. Pure: parsing takes bytes, lookups take a number.

use std::collections::HashMap;
use std::path::Path;

/// Mobile or landline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    Mobile,
    Landline,
}

/// What a number tells about its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub province: String,
    pub city: String,
    pub carrier: Option<&'static str>,
    pub kind: NumberKind,
}

impl Region {
    /// Call attributes for routing and the agent's screen.
    pub fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("region.province", self.province.clone()),
            ("region.city", self.city.clone()),
        ];
        if let Some(c) = self.carrier {
            v.push(("carrier", c.to_string()));
        }
        v
    }

    /// One line for people, e.g. `四川 成都 · 中国移动`.
    pub fn label(&self) -> String {
        let place = if self.province == self.city {
            self.city.clone()
        } else {
            format!("{} {}", self.province, self.city)
        };
        match self.carrier {
            Some(c) => format!("{place} · {c}"),
            None => place,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("cannot read {path}: {why}; run scripts/fetch-phone-dat.sh (make run does)")]
    Read { path: String, why: String },
    #[error("phone.dat is damaged ({0}); delete it and run scripts/fetch-phone-dat.sh again")]
    Corrupt(String),
}

/// The dialect most callers of a province speak at home, as agents' skills name it
/// (`dialect:<name>`).
pub fn dialect_for_province(province: &str) -> Option<&'static str> {
    Some(match province {
        "四川" | "重庆" => "sichuan",
        "广东" | "香港" | "澳门" | "广西" => "cantonese",
        "上海" | "浙江" => "wu",
        "福建" | "台湾" => "minnan",
        "湖南" => "xiang",
        "江西" => "gan",
        "山西" => "jin",
        "黑龙江" | "吉林" | "辽宁" => "dongbei",
        _ => return None,
    })
}

const INDEX_ENTRY: usize = 9;

pub struct RegionDb {
    version: String,
    buf: Vec<u8>,
    index_at: usize,
    entries: usize,
    /// Area code (with its leading 0) → the first record naming it.
    area_codes: HashMap<String, (String, String)>,
}

fn carrier(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "中国移动",
        2 => "中国联通",
        3 => "中国电信",
        4 => "中国电信（虚拟运营商）",
        5 => "中国联通（虚拟运营商）",
        6 => "中国移动（虚拟运营商）",
        7 => "中国广电",
        8 => "中国广电（虚拟运营商）",
        _ => return None,
    })
}

impl RegionDb {
    pub fn load(path: &Path) -> Result<RegionDb, RegionError> {
        let buf = std::fs::read(path).map_err(|e| RegionError::Read {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        RegionDb::parse(buf)
    }

    /// Checks the layout and builds the area-code table; never panics on any input.
    pub fn parse(buf: Vec<u8>) -> Result<RegionDb, RegionError> {
        if buf.len() < 8 {
            return Err(RegionError::Corrupt(format!(
                "{} bytes, shorter than the 8-byte header",
                buf.len()
            )));
        }
        let version = String::from_utf8_lossy(&buf[..4]).into_owned();
        let index_at = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
        if index_at < 8 || index_at > buf.len() {
            return Err(RegionError::Corrupt(format!(
                "the index starts at byte {index_at}, outside the {}-byte file",
                buf.len()
            )));
        }
        let entries = (buf.len() - index_at) / INDEX_ENTRY;
        if entries == 0 {
            return Err(RegionError::Corrupt("the index is empty".into()));
        }
        let mut db = RegionDb {
            version,
            buf,
            index_at,
            entries,
            area_codes: HashMap::new(),
        };
        // Records: the NUL-terminated strings between the header and the index.
        let mut at = 8;
        while at < db.index_at {
            let end = db.buf[at..db.index_at]
                .iter()
                .position(|&b| b == 0)
                .map_or(db.index_at, |n| at + n);
            if let Some((province, city, area)) = db.record_fields(at, end) {
                db.area_codes.entry(area).or_insert((province, city));
            }
            at = end + 1;
        }
        Ok(db)
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of 7-digit mobile prefixes known.
    pub fn prefixes(&self) -> usize {
        self.entries
    }

    fn record_fields(&self, start: usize, end: usize) -> Option<(String, String, String)> {
        let text = std::str::from_utf8(self.buf.get(start..end)?).ok()?;
        let mut parts = text.split('|');
        let (province, city, _zip, area) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some((province.to_string(), city.to_string(), area.to_string()))
    }

    fn entry(&self, i: usize) -> Option<(u32, usize, u8)> {
        let at = self.index_at + i * INDEX_ENTRY;
        let b = self.buf.get(at..at + INDEX_ENTRY)?;
        Some((
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize,
            b[8],
        ))
    }

    fn mobile(&self, prefix: u32) -> Option<Region> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (p, record, kind) = self.entry(mid)?;
            if p < prefix {
                lo = mid + 1;
            } else if p > prefix {
                hi = mid;
            } else {
                if record < 8 || record >= self.index_at {
                    return None;
                }
                let end = self.buf[record..self.index_at]
                    .iter()
                    .position(|&b| b == 0)
                    .map_or(self.index_at, |n| record + n);
                let (province, city, _) = self.record_fields(record, end)?;
                return Some(Region {
                    province,
                    city,
                    carrier: carrier(kind),
                    kind: NumberKind::Mobile,
                });
            }
        }
        None
    }

    /// The region of a caller's number: `13800138000`, `+86 138…`, `0086…`, landlines
    /// `028-8888 8888` or `02888888888`. `None` for anything else (short codes, foreign
    /// numbers, unknown prefixes): unknown, not an error.
    pub fn lookup(&self, number: &str) -> Option<Region> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let national = if number.trim_start().starts_with('+') {
            digits.strip_prefix("86")?.to_string()
        } else if let Some(rest) = digits.strip_prefix("0086") {
            rest.to_string()
        } else if digits.len() == 13 && digits.starts_with("861") {
            digits[2..].to_string()
        } else {
            digits
        };
        if national.len() == 11 && national.starts_with('1') {
            return self.mobile(national[..7].parse().ok()?);
        }
        let landline = if national.starts_with('0') {
            national
        } else {
            // "+86 28 ..." drops the trunk 0.
            format!("0{national}")
        };
        if landline.len() < 10 {
            return None;
        }
        [3, 4].iter().find_map(|&n| {
            let (province, city) = self.area_codes.get(landline.get(..n)?)?;
            Some(Region {
                province: province.clone(),
                city: city.clone(),
                carrier: None,
                kind: NumberKind::Landline,
            })
        })
    }
}

#[cfg(test)]
mod tests;
