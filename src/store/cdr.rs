//! The call detail record: what the store task writes ([`CallStart`], [`CallEnd`],
//! [`CdrEvent`]) and what readers get back ([`CallRecord`], filtered by [`ListQuery`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// A call was offered to Hotline: the row is created in state `ringing`.
///
/// `Default` (empty strings, the Unix epoch, no flow) lets callers name only what they know:
/// `CallStart { call_id, at, ..Default::default() }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallStart {
    /// Unique across all nodes (the SIP Call-ID or Hotline's own call id).
    pub call_id: String,
    pub tenant: String,
    pub node_id: String,
    /// The caller's number.
    pub from: String,
    /// The dialled (400) number.
    pub to: String,
    pub at: DateTime<Utc>,
    /// The IVR flow that answered (its name, e.g. "ecommerce-zh"); `None` when no flow did
    /// (an unknown number, or an app that is not a flow).
    pub flow: Option<String>,
}

/// A call ended (either side hung up, or Hotline/the system ended it).
#[derive(Debug, Clone, PartialEq)]
pub struct CallEnd {
    pub call_id: String,
    pub at: DateTime<Utc>,
    /// Free text, e.g. "caller hung up", "BYE", "RTP timeout", "503 from trunk".
    pub cause: String,
    pub side: HangupSide,
    /// Keypad digits the caller pressed during the call, in order.
    pub digits: String,
    /// RTP quality of the caller's leg; `None` when not measured (e.g. never answered).
    pub loss_pct: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub mos: Option<f64>,
    /// Path of the recording file, if the call was recorded.
    pub recording: Option<String>,
    /// The caller's way through the IVR flow, nodes joined by `>` with inputs in brackets
    /// and outcomes in parentheses, e.g. `hours>greeting>menu[1]>order[12345678#]>lookup(ok)`;
    /// empty when no flow ran.
    pub ivr_path: String,
    /// Path of the voicemail WAV the caller left, if any.
    pub voicemail: Option<String>,
    /// The ACD queue the caller waited in, how long (whole seconds), and the agent
    /// (login) who took the call.
    pub queue: Option<String>,
    pub queue_wait_s: Option<i64>,
    pub agent: Option<String>,
}

/// Empty strings, the Unix epoch, side `system` and nothing measured, so that callers name
/// only what they know: `CallEnd { call_id, at, cause, side, ..Default::default() }`.
impl Default for CallEnd {
    fn default() -> Self {
        CallEnd {
            call_id: String::new(),
            at: DateTime::<Utc>::default(),
            cause: String::new(),
            side: HangupSide::System,
            digits: String::new(),
            loss_pct: None,
            jitter_ms: None,
            mos: None,
            recording: None,
            ivr_path: String::new(),
            voicemail: None,
            queue: None,
            queue_wait_s: None,
            agent: None,
        }
    }
}

/// One write for the store task; [`crate::store::Store::apply`] writes a batch of them in one
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum CdrEvent {
    Started(CallStart),
    Answered {
        call_id: String,
        at: DateTime<Utc>,
        /// Negotiated codec name, e.g. "PCMA".
        codec: String,
    },
    Ended(CallEnd),
    /// The agent's wrap-up of a call that has ended.
    Disposition {
        call_id: String,
        disposition: String,
        notes: String,
    },
}

impl CdrEvent {
    pub fn call_id(&self) -> &str {
        match self {
            CdrEvent::Started(s) => &s.call_id,
            CdrEvent::Answered { call_id, .. } => call_id,
            CdrEvent::Ended(e) => &e.call_id,
            CdrEvent::Disposition { call_id, .. } => call_id,
        }
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupSide {
    Caller,
    Hotline,
    /// Neither party: a node restart, a trunk failure, an overload rejection.
    System,
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Ringing,
    Up,
    Ended,
    /// The node carrying it stopped (crash, kill -9) before the call ended.
    Interrupted,
}

/// A stored value that is not one of the names we write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`: expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl HangupSide {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupSide::Caller => "caller",
            HangupSide::Hotline => "hotline",
            HangupSide::System => "system",
        }
    }
}

impl FromStr for HangupSide {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "caller" => Ok(HangupSide::Caller),
            "hotline" => Ok(HangupSide::Hotline),
            "system" => Ok(HangupSide::System),
            _ => Err(UnknownName {
                what: "hangup side",
                value: s.to_string(),
                expected: "caller, hotline, system",
            }),
        }
    }
}

impl fmt::Display for HangupSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Up => "up",
            CallState::Ended => "ended",
            CallState::Interrupted => "interrupted",
        }
    }
}

impl FromStr for CallState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "ringing" => Ok(CallState::Ringing),
            "up" => Ok(CallState::Up),
            "ended" => Ok(CallState::Ended),
            "interrupted" => Ok(CallState::Interrupted),
            _ => Err(UnknownName {
                what: "call state",
                value: s.to_string(),
                expected: "ringing, up, ended, interrupted",
            }),
        }
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored call, as listed. Serializes (JSON lines, REST) with exactly these snake_case
/// field names; times are RFC 3339 UTC with milliseconds (`2025-06-01T08:00:00.250Z`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub call_id: String,
    pub tenant: String,
    pub node_id: String,
    pub from: String,
    pub to: String,
    #[serde(serialize_with = "ser_time")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_time")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_time")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Start to end, whole seconds rounded up; `None` until the call ends.
    pub duration_s: Option<i64>,
    /// Answer to end, whole seconds rounded up (carrier billing rounds up a started second);
    /// 0 for an ended call that was never answered, `None` until the call ends.
    pub billable_s: Option<i64>,
    pub hangup_cause: Option<String>,
    pub hangup_side: Option<HangupSide>,
    pub digits: String,
    pub codec: Option<String>,
    pub loss_pct: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub mos: Option<f64>,
    pub recording: Option<String>,
    pub state: CallState,
    /// The IVR flow that answered; `None` for calls no flow answered (and for calls stored
    /// before flows were recorded).
    pub flow: Option<String>,
    /// See [`CallEnd::ivr_path`]; empty while the call is up and when no flow ran.
    pub ivr_path: String,
    /// Path of the voicemail WAV, if the caller left one.
    pub voicemail: Option<String>,
    /// See [`CallEnd::queue`].
    pub queue: Option<String>,
    pub queue_wait_s: Option<i64>,
    pub agent: Option<String>,
    /// The agent's wrap-up: disposition code (e.g. `resolved`) and notes.
    pub disposition: Option<String>,
    pub notes: Option<String>,
}

/// RFC 3339, UTC, millisecond precision: the one time format of CDR output.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(t))
}

fn ser_opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(t)),
        None => s.serialize_none(),
    }
}

/// Filters for listing calls; newest (by start time) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Calls started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Calls started before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many rows (at least 1 is asked of the database).
    pub limit: u32,
    pub tenant: Option<String>,
    /// Calls from or to this number (exact match).
    pub number: Option<String>,
    /// Calls answered by this IVR flow (exact name).
    pub flow: Option<String>,
}

impl ListQuery {
    pub const DEFAULT_LIMIT: u32 = 100;
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            since: None,
            until: None,
            limit: Self::DEFAULT_LIMIT,
            tenant: None,
            number: None,
            flow: None,
        }
    }
}

/// Whole seconds from `from_ms` to `to_ms`, a started second counting as one; 0 if `to_ms`
/// is not after `from_ms` (clock steps must not make negative durations).
pub fn seconds_rounded_up(from_ms: i64, to_ms: i64) -> i64 {
    let ms = to_ms.saturating_sub(from_ms);
    if ms <= 0 {
        0
    } else {
        ms / 1000 + i64::from(ms % 1000 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [HangupSide::Caller, HangupSide::Hotline, HangupSide::System] {
            assert_eq!(s.as_str().parse::<HangupSide>(), Ok(s));
        }
        for s in [
            CallState::Ringing,
            CallState::Up,
            CallState::Ended,
            CallState::Interrupted,
        ] {
            assert_eq!(s.as_str().parse::<CallState>(), Ok(s));
        }
        let e = "gone".parse::<CallState>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown call state `gone`: expected one of ringing, up, ended, interrupted"
        );
    }

    #[test]
    fn rounding_counts_a_started_second() {
        assert_eq!(seconds_rounded_up(1_000, 1_000), 0);
        assert_eq!(seconds_rounded_up(1_000, 1_001), 1);
        assert_eq!(seconds_rounded_up(1_000, 2_000), 1);
        assert_eq!(seconds_rounded_up(1_000, 2_001), 2);
        assert_eq!(seconds_rounded_up(5_000, 1_000), 0);
        assert_eq!(seconds_rounded_up(i64::MIN, i64::MAX), i64::MAX / 1000 + 1);
    }

    #[test]
    fn time_format_is_utc_with_millis() {
        let t = DateTime::from_timestamp_millis(1_748_764_800_250).unwrap();
        assert_eq!(format_time(&t), "2025-06-01T08:00:00.250Z");
    }
}
