//! The render cache: `(engine, voice, text)` → prompt, looked up in memory, then on disk
//! (`<data_dir>/tts-cache/<hash>.wav`), then rendered. Thread-safe through `&self`; no lock
//! is held while a file is read or a prompt rendered, and two callers asking for the same
//! missing prompt at once share one render.

mod disk;
mod memory;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::{debug, warn};

use super::espeak::prompt_name;
use super::{Prompt, TtsEngine, TtsError, Voice};
use disk::DiskRead;
use memory::MemoryLru;

/// The cache's directory inside the data directory.
pub const CACHE_SUBDIR: &str = "tts-cache";

/// Prerender threads by default: espeak-ng is single-threaded and the machine has few
/// cores shared with live calls.
const DEFAULT_PRERENDER_THREADS: usize = 2;

/// A cache key: the first 128 bits of SHA-256 over engine, revision, voice and text.
type Key = [u8; 16];

/// Counters since the cache was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Lookups answered without rendering (`memory_hits + disk_hits`).
    pub hits: u64,
    pub memory_hits: u64,
    pub disk_hits: u64,
    /// Lookups that had to render (`renders + render_failures`).
    pub misses: u64,
    pub renders: u64,
    pub render_failures: u64,
    /// Total and longest wall time of successful renders, in microseconds.
    pub render_micros_total: u64,
    pub render_micros_max: u64,
    /// Cache files found damaged (and rendered again).
    pub corrupt_files: u64,
    /// Renders that could not be saved to disk (still served from memory).
    pub disk_write_errors: u64,
    pub evictions: u64,
    pub memory_entries: usize,
    pub memory_bytes: usize,
}

impl CacheStats {
    /// Share of lookups answered without rendering, 0..=1 (1 before any lookup).
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            1.0
        } else {
            self.hits as f64 / total as f64
        }
    }

    /// Total render time in milliseconds.
    pub fn render_ms_total(&self) -> f64 {
        self.render_micros_total as f64 / 1000.0
    }

    /// Mean time of a successful render in milliseconds (0 before any).
    pub fn mean_render_ms(&self) -> f64 {
        if self.renders == 0 {
            0.0
        } else {
            self.render_ms_total() / self.renders as f64
        }
    }
}

/// One prompt [`TtsCache::prerender`] could not render.
#[derive(Debug)]
pub struct PrerenderFailure {
    pub voice: Voice,
    pub text: String,
    pub error: TtsError,
}

/// What [`TtsCache::prerender`] did.
#[derive(Debug, Default)]
pub struct PrerenderReport {
    /// Distinct prompts asked for.
    pub requested: usize,
    /// Already in memory.
    pub in_memory: usize,
    /// Loaded from cache files.
    pub from_disk: usize,
    /// Rendered now.
    pub rendered: usize,
    pub failed: Vec<PrerenderFailure>,
    pub elapsed: Duration,
}

impl PrerenderReport {
    /// Whether every prompt is ready.
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Where a prompt came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Memory,
    Disk,
    Rendered,
}

#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    renders: AtomicU64,
    render_failures: AtomicU64,
    render_micros_total: AtomicU64,
    render_micros_max: AtomicU64,
    corrupt_files: AtomicU64,
    disk_write_errors: AtomicU64,
}

struct State {
    memory: MemoryLru,
    /// Keys being loaded or rendered right now; others wanting them wait on `ready`.
    in_flight: HashSet<Key>,
}

/// Rendered prompts on disk and in memory, in front of a [`TtsEngine`].
pub struct TtsCache {
    engine: Arc<dyn TtsEngine>,
    dir: PathBuf,
    /// SHA-256 state after the engine name and revision; cloned for each key.
    key_prefix: Sha256,
    prerender_threads: usize,
    state: Mutex<State>,
    ready: Condvar,
    counters: Counters,
}

impl TtsCache {
    /// A cache of `engine`'s prompts in `dir` (created on first write), keeping at most
    /// `max_memory_bytes` of samples in memory (an 8 kHz second is 16 000 bytes).
    pub fn new(engine: Arc<dyn TtsEngine>, dir: PathBuf, max_memory_bytes: usize) -> Self {
        let mut key_prefix = Sha256::new();
        for part in ["hotline-tts-cache-v1", engine.name(), engine.revision()] {
            key_prefix.update(part.as_bytes());
            key_prefix.update([0u8]);
        }
        Self {
            engine,
            dir,
            key_prefix,
            prerender_threads: DEFAULT_PRERENDER_THREADS,
            state: Mutex::new(State {
                memory: MemoryLru::new(max_memory_bytes),
                in_flight: HashSet::new(),
            }),
            ready: Condvar::new(),
            counters: Counters::default(),
        }
    }

    /// `<data_dir>/tts-cache`, the directory the call runtime uses.
    pub fn dir_in(data_dir: &Path) -> PathBuf {
        data_dir.join(CACHE_SUBDIR)
    }

    /// How many prompts [`prerender`](Self::prerender) renders at once (1..=16).
    pub fn with_prerender_threads(mut self, threads: usize) -> Self {
        self.prerender_threads = threads.clamp(1, 16);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn engine(&self) -> &Arc<dyn TtsEngine> {
        &self.engine
    }

    /// The prompt for `text` in `voice`: from memory, else the cache file, else rendered
    /// (and saved). Blocks for the render; call it off the media threads.
    pub fn get(&self, voice: Voice, text: &str) -> Result<Prompt, TtsError> {
        self.fetch(voice, text).map(|(prompt, _)| prompt)
    }

    /// [`get`](Self::get) on tokio's blocking pool.
    pub async fn get_async(
        self: Arc<Self>,
        voice: Voice,
        text: String,
    ) -> Result<Prompt, TtsError> {
        let shown = text.clone();
        tokio::task::spawn_blocking(move || self.get(voice, &text))
            .await
            .unwrap_or_else(|e| {
                Err(TtsError::Worker {
                    voice,
                    text: shown,
                    detail: e.to_string(),
                })
            })
    }

    /// Makes every `(voice, text)` ready, rendering what is missing on up to
    /// `prerender_threads` threads. Used when a flow loads so no caller waits for synthesis.
    pub fn prerender(&self, items: &[(Voice, String)]) -> PrerenderReport {
        let started = Instant::now();
        let mut seen = HashSet::new();
        let unique: Vec<(Voice, &str)> = items
            .iter()
            .filter(|(voice, text)| seen.insert(self.key(*voice, text)))
            .map(|(voice, text)| (*voice, text.as_str()))
            .collect();
        let next = AtomicUsize::new(0);
        let mut report = PrerenderReport {
            requested: unique.len(),
            ..PrerenderReport::default()
        };
        let threads = self.prerender_threads.min(unique.len());
        let partials: Vec<PrerenderReport> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut part = PrerenderReport::default();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(voice, text)) = unique.get(i) else {
                                break;
                            };
                            match self.fetch(voice, text) {
                                Ok((_, Source::Memory)) => part.in_memory += 1,
                                Ok((_, Source::Disk)) => part.from_disk += 1,
                                Ok((_, Source::Rendered)) => part.rendered += 1,
                                Err(error) => part.failed.push(PrerenderFailure {
                                    voice,
                                    text: text.to_owned(),
                                    error,
                                }),
                            }
                        }
                        part
                    })
                })
                .collect();
            workers.into_iter().filter_map(|w| w.join().ok()).collect()
        });
        for part in partials {
            report.in_memory += part.in_memory;
            report.from_disk += part.from_disk;
            report.rendered += part.rendered;
            report.failed.extend(part.failed);
        }
        report.elapsed = started.elapsed();
        debug!(
            requested = report.requested,
            rendered = report.rendered,
            failed = report.failed.len(),
            elapsed_ms = report.elapsed.as_millis() as u64,
            "TTS prerender done"
        );
        report
    }

    /// Counters so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (memory_entries, memory_bytes, evictions) = {
            let state = self.lock();
            (
                state.memory.len(),
                state.memory.bytes(),
                state.memory.evictions(),
            )
        };
        let memory_hits = load(&c.memory_hits);
        let disk_hits = load(&c.disk_hits);
        let renders = load(&c.renders);
        let render_failures = load(&c.render_failures);
        CacheStats {
            hits: memory_hits + disk_hits,
            memory_hits,
            disk_hits,
            misses: renders + render_failures,
            renders,
            render_failures,
            render_micros_total: load(&c.render_micros_total),
            render_micros_max: load(&c.render_micros_max),
            corrupt_files: load(&c.corrupt_files),
            disk_write_errors: load(&c.disk_write_errors),
            evictions,
            memory_entries,
            memory_bytes,
        }
    }

    /// The cache file a prompt is (or would be) saved in.
    pub fn file_for(&self, voice: Voice, text: &str) -> PathBuf {
        self.path(&self.key(voice, text))
    }

    fn key(&self, voice: Voice, text: &str) -> Key {
        let mut hasher = self.key_prefix.clone();
        hasher.update(voice.as_str().as_bytes());
        hasher.update([0u8]);
        hasher.update(text.as_bytes());
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.wav", hex::encode(key)))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every step, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fetch(&self, voice: Voice, text: &str) -> Result<(Prompt, Source), TtsError> {
        let key = self.key(voice, text);
        let mut state = self.lock();
        loop {
            if let Some(prompt) = state.memory.get(&key) {
                self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
                return Ok((prompt, Source::Memory));
            }
            if !state.in_flight.contains(&key) {
                break;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.in_flight.insert(key);
        drop(state);
        let mut flight = InFlight {
            cache: self,
            key,
            result: None,
        };
        let result = self.load_or_render(&key, voice, text);
        if let Ok((prompt, _)) = &result {
            flight.result = Some(prompt.clone());
        }
        drop(flight);
        result
    }

    fn load_or_render(
        &self,
        key: &Key,
        voice: Voice,
        text: &str,
    ) -> Result<(Prompt, Source), TtsError> {
        let path = self.path(key);
        let name = prompt_name(voice, text);
        match disk::read(&path) {
            DiskRead::Found(samples) => {
                self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
                return Ok((Prompt::new(name, samples), Source::Disk));
            }
            DiskRead::Corrupt(detail) => {
                self.counters.corrupt_files.fetch_add(1, Ordering::Relaxed);
                warn!(file = %path.display(), %detail, "damaged TTS cache file; rendering again");
                let _ = std::fs::remove_file(&path);
            }
            DiskRead::Missing => {}
        }
        let started = Instant::now();
        let rendered = self.engine.render(voice, text).and_then(|p| {
            if p.is_empty() {
                Err(TtsError::EmptyOutput {
                    voice,
                    text: text.to_owned(),
                })
            } else {
                Ok(p)
            }
        });
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let prompt = match rendered {
            Ok(p) => p,
            Err(e) => {
                self.counters
                    .render_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.counters.renders.fetch_add(1, Ordering::Relaxed);
        self.counters
            .render_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        self.counters
            .render_micros_max
            .fetch_max(micros, Ordering::Relaxed);
        debug!(engine = self.engine.name(), %voice, micros, samples = prompt.len(), "TTS rendered");
        if let Err(e) = disk::write_atomic(&path, prompt.samples()) {
            self.counters
                .disk_write_errors
                .fetch_add(1, Ordering::Relaxed);
            warn!(file = %path.display(), error = %e, "cannot save TTS cache file; serving from memory");
        }
        Ok((
            Prompt::new(name, prompt.shared_samples().clone()),
            Source::Rendered,
        ))
    }
}

/// Marks a key as being loaded; on drop (also if a render panics) publishes the result to
/// memory and wakes everyone waiting for the key, in one critical section.
struct InFlight<'a> {
    cache: &'a TtsCache,
    key: Key,
    result: Option<Prompt>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        if let Some(prompt) = self.result.take() {
            state.memory.insert(self.key, prompt);
        }
        state.in_flight.remove(&self.key);
        drop(state);
        self.cache.ready.notify_all();
    }
}
