//! The voices a prompt can be spoken in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A prompt's language. Flow files write it as `zh` or `en`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Voice {
    /// Mandarin Chinese (text in Chinese characters; converted to pinyin before speaking).
    Zh,
    /// American English.
    En,
}

impl Voice {
    /// Every voice, in a stable order.
    pub const ALL: [Voice; 2] = [Voice::Zh, Voice::En];

    /// The short name used in flow files, cache keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Voice::Zh => "zh",
            Voice::En => "en",
        }
    }
}

impl fmt::Display for Voice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A voice name that is neither Mandarin nor English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown voice {0:?}: write \"zh\" (Mandarin) or \"en\" (English)")]
pub struct UnknownVoice(pub String);

impl FromStr for Voice {
    type Err = UnknownVoice;

    /// Accepts the flow-file names and the usual aliases, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "cmn" | "mandarin" | "chinese" => Ok(Voice::Zh),
            "en" | "en-us" | "en_us" | "english" => Ok(Voice::En),
            _ => Err(UnknownVoice(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!("zh".parse::<Voice>(), Ok(Voice::Zh));
        assert_eq!(" ZH-CN ".parse::<Voice>(), Ok(Voice::Zh));
        assert_eq!("en".parse::<Voice>(), Ok(Voice::En));
        assert_eq!("English".parse::<Voice>(), Ok(Voice::En));
        let err = "fr".parse::<Voice>().unwrap_err();
        assert!(err.to_string().contains("write \"zh\""), "{err}");
    }

    #[test]
    fn serde_uses_lowercase_names() {
        assert_eq!(serde_json::to_string(&Voice::Zh).unwrap(), "\"zh\"");
        assert_eq!(serde_json::to_string(&Voice::En).unwrap(), "\"en\"");
        assert_eq!(serde_json::from_str::<Voice>("\"en\"").unwrap(), Voice::En);
        assert!(serde_json::from_str::<Voice>("\"EN\"").is_err());
    }

    #[test]
    fn display_round_trips() {
        for v in Voice::ALL {
            assert_eq!(v.to_string().parse::<Voice>(), Ok(v));
        }
    }
}
