//! `[media]` in hotline.toml: media worker threads, silence timeout, recording, and how long
//! a shutdown waits for calls. Parsing lives in `file.rs`; `load` resolves `workers = 0`.

/// The most media worker threads a node may ask for; more is surely a typo.
pub const MAX_MEDIA_WORKERS: usize = 256;
/// Upper bound of `rtp_timeout_secs` and `shutdown_grace_secs` (one hour).
pub const MAX_MEDIA_SECS: u64 = 3600;

/// Media settings for the whole node (profiles and numbers may override `record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaSettings {
    /// Media worker threads. In a loaded [`Config`](super::Config) at least 1: the key's
    /// `0` (the default) is resolved to one per core.
    pub workers: usize,
    /// Hang up a call after this many seconds without RTP from the caller; 0 = never.
    pub rtp_timeout_secs: u64,
    /// Record calls unless a SIP profile or a number says otherwise.
    pub record: bool,
    /// How long SIGTERM waits for calls to end before hanging them up.
    pub shutdown_grace_secs: u64,
    /// libopus encoder complexity (0–10) for browser legs that take only Opus: lower costs
    /// less CPU per transcoded call and a little quality.
    pub opus_complexity: u8,
}

impl MediaSettings {
    /// One worker per core, or 1 when the core count cannot be read.
    pub fn workers_per_core() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Defaults with `workers` already resolved to one per core.
impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            workers: MediaSettings::workers_per_core(),
            rtp_timeout_secs: 60,
            record: true,
            shutdown_grace_secs: 30,
            opus_complexity: crate::media::opus::COMPLEXITY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_workers_and_record_every_call() {
        let m = MediaSettings::default();
        assert!(m.workers >= 1);
        assert_eq!(m.workers, MediaSettings::workers_per_core());
        assert_eq!(m.rtp_timeout_secs, 60);
        assert!(m.record);
        assert_eq!(m.shutdown_grace_secs, 30);
    }
}
