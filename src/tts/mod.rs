//! Offline text-to-speech for IVR prompts.
//!
//! - [`TtsEngine`]: turns `(voice, text)` into an 8 kHz mono [`Prompt`]; [`EspeakNg`] is
//!   the engine we ship (Mandarin through tone-numbered pinyin, see [`pinyin`]). Another
//!   engine only has to implement the trait.
//! - [`TtsCache`]: every prompt is rendered once and kept as a WAV file under
//!   `<data_dir>/tts-cache/` plus a bounded in-memory set, so a flow's static prompts are
//!   rendered when it loads ([`TtsCache::prerender`]) and dynamic text (order numbers,
//!   amounts) on demand. Everything here blocks: the call runtime calls it through
//!   `tokio::task::spawn_blocking` (or [`TtsCache::get_async`]), never from a media thread.

mod cache;
pub mod english;
mod error;
mod espeak;
pub mod level;
mod normalize;
pub mod pinyin;
mod voice;

pub use cache::{CACHE_SUBDIR, CacheStats, PrerenderFailure, PrerenderReport, TtsCache};
pub use error::TtsError;
pub use espeak::{DEFAULT_TIMEOUT, DEFAULT_WORDS_PER_MINUTE, EspeakNg, MAX_TEXT_CHARS};
pub use voice::{UnknownVoice, Voice};

pub use crate::media::resample::Prompt;

/// A speech synthesiser. Implementations must be usable from several threads at once
/// (the cache renders a flow's prompts in parallel).
pub trait TtsEngine: Send + Sync {
    /// A short stable name (`espeak-ng`), part of every cache key.
    fn name(&self) -> &str;

    /// Whatever changes how the same text sounds (engine version, speed, text rules). It is
    /// part of the cache key, so a change re-renders instead of reusing stale audio.
    fn revision(&self) -> &str {
        ""
    }

    /// Speaks `text` in `voice`, returning 8 kHz mono audio. Blocking; may take tens of ms.
    fn render(&self, voice: Voice, text: &str) -> Result<Prompt, TtsError>;
}
