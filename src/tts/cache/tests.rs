//! Cache behaviour with a fake engine (no espeak-ng): hits, disk reuse, corrupt files,
//! keys, shared renders, parallel prerender, failures.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// Renders `len(text) * 10` samples of a value that tells the voice apart; "bad" texts
/// fail; "slow" texts wait until released; tracks how many renders run at once.
#[derive(Default)]
struct FakeEngine {
    revision: String,
    delay: Duration,
    renders: AtomicUsize,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    slow_gate: Mutex<bool>,
    slow_open: std::sync::Condvar,
}

impl FakeEngine {
    fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    fn open_gate(&self) {
        *self.slow_gate.lock().unwrap() = true;
        self.slow_open.notify_all();
    }
}

impl TtsEngine for FakeEngine {
    fn name(&self) -> &str {
        "fake"
    }

    fn revision(&self) -> &str {
        &self.revision
    }

    fn render(&self, voice: Voice, text: &str) -> Result<Prompt, TtsError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_running.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        if text.contains("slow") {
            let mut open = self.slow_gate.lock().unwrap();
            while !*open {
                open = self.slow_open.wait(open).unwrap();
            }
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.renders.fetch_add(1, Ordering::SeqCst);
        if text.contains("bad") {
            return Err(TtsError::NothingToSay {
                voice,
                text: text.to_owned(),
            });
        }
        let value = match voice {
            Voice::Zh => 1000,
            Voice::En => 2000,
        };
        Ok(Prompt::new("fake", vec![value; text.len() * 10]))
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hotline-tts-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn cache(engine: &Arc<FakeEngine>, dir: &Path, memory: usize) -> TtsCache {
    TtsCache::new(engine.clone(), dir.to_owned(), memory)
}

#[test]
fn second_get_is_a_memory_hit() {
    let dir = temp_dir("memory-hit");
    let engine = Arc::new(FakeEngine::default());
    let cache = cache(&engine, &dir, 1 << 20);
    let first = cache.get(Voice::Zh, "您好").unwrap();
    let second = cache.get(Voice::Zh, "您好").unwrap();
    assert_eq!(first.samples(), second.samples());
    assert_eq!(first.len(), "您好".len() * 10);
    assert_eq!(first.name(), "tts:zh:您好");
    assert_eq!(engine.renders.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.memory_hits, stats.misses, stats.renders),
        (1, 1, 1, 1)
    );
    assert_eq!((stats.memory_entries, stats.memory_bytes), (1, 120));
    assert_eq!(stats.hit_rate(), 0.5);
    assert!(cache.file_for(Voice::Zh, "您好").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_new_cache_reuses_files_on_disk() {
    let dir = temp_dir("disk-hit");
    let engine = Arc::new(FakeEngine::default());
    let rendered = cache(&engine, &dir, 1 << 20)
        .get(Voice::En, "hello")
        .unwrap();
    let restarted = cache(&engine, &dir, 1 << 20);
    let loaded = restarted.get(Voice::En, "hello").unwrap();
    assert_eq!(loaded.samples(), rendered.samples());
    assert_eq!(engine.renders.load(Ordering::SeqCst), 1);
    let stats = restarted.stats();
    assert_eq!(
        (stats.disk_hits, stats.renders, stats.memory_entries),
        (1, 0, 1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_no_memory_budget_every_lookup_reads_the_file() {
    let dir = temp_dir("no-memory");
    let engine = Arc::new(FakeEngine::default());
    let cache = cache(&engine, &dir, 0);
    for _ in 0..3 {
        cache.get(Voice::Zh, "好").unwrap();
    }
    let stats = cache.stats();
    assert_eq!(
        (stats.renders, stats.disk_hits, stats.memory_hits),
        (1, 2, 0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_file_is_rendered_again() {
    let dir = temp_dir("corrupt");
    let engine = Arc::new(FakeEngine::default());
    let good = cache(&engine, &dir, 1 << 20)
        .get(Voice::Zh, "再见")
        .unwrap();
    let file = cache(&engine, &dir, 0).file_for(Voice::Zh, "再见");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();

    let fresh = cache(&engine, &dir, 1 << 20);
    let again = fresh.get(Voice::Zh, "再见").unwrap();
    assert_eq!(again.samples(), good.samples());
    let stats = fresh.stats();
    assert_eq!(
        (stats.corrupt_files, stats.renders, stats.disk_hits),
        (1, 1, 0)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the file is whole again"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keys_differ_by_voice_text_and_engine_revision() {
    let dir = temp_dir("keys");
    let engine = Arc::new(FakeEngine::default());
    let cache1 = cache(&engine, &dir, 1 << 20);
    let zh = cache1.get(Voice::Zh, "OK").unwrap();
    let en = cache1.get(Voice::En, "OK").unwrap();
    assert_eq!((zh.samples()[0], en.samples()[0]), (1000, 2000));
    assert_eq!(engine.renders.load(Ordering::SeqCst), 2);
    assert_ne!(
        cache1.file_for(Voice::Zh, "OK"),
        cache1.file_for(Voice::En, "OK")
    );
    assert_ne!(
        cache1.file_for(Voice::Zh, "OK"),
        cache1.file_for(Voice::Zh, "OK ")
    );

    let newer = Arc::new(FakeEngine {
        revision: "v2".to_owned(),
        ..FakeEngine::default()
    });
    let cache2 = TtsCache::new(newer.clone(), dir.clone(), 1 << 20);
    assert_ne!(
        cache1.file_for(Voice::Zh, "OK"),
        cache2.file_for(Voice::Zh, "OK")
    );
    cache2.get(Voice::Zh, "OK").unwrap();
    assert_eq!(
        newer.renders.load(Ordering::SeqCst),
        1,
        "stale audio is not reused"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_requests_for_one_prompt_share_a_render() {
    let dir = temp_dir("shared");
    let engine = Arc::new(FakeEngine::with_delay(Duration::from_millis(100)));
    let cache = cache(&engine, &dir, 1 << 20);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| cache.get(Voice::Zh, "订单").unwrap());
        }
    });
    assert_eq!(engine.renders.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().memory_hits, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_lock_is_held_while_rendering() {
    let dir = temp_dir("no-lock");
    let engine = Arc::new(FakeEngine::default());
    let cache = cache(&engine, &dir, 1 << 20);
    cache.get(Voice::En, "ready").unwrap();
    std::thread::scope(|s| {
        let slow = s.spawn(|| cache.get(Voice::En, "slow one"));
        while engine.running.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The slow render is blocked; cached and other prompts are still served.
        cache.get(Voice::En, "ready").unwrap();
        cache.get(Voice::En, "another").unwrap();
        assert!(!slow.is_finished());
        engine.open_gate();
        slow.join().unwrap().unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_are_reported_and_not_cached() {
    let dir = temp_dir("failures");
    let engine = Arc::new(FakeEngine::default());
    let cache = cache(&engine, &dir, 1 << 20);
    assert!(matches!(
        cache.get(Voice::Zh, "bad text"),
        Err(TtsError::NothingToSay { .. })
    ));
    assert!(cache.get(Voice::Zh, "bad text").is_err());
    let stats = cache.stats();
    assert_eq!(
        (stats.render_failures, stats.misses, stats.memory_entries),
        (2, 2, 0)
    );
    assert!(!cache.file_for(Voice::Zh, "bad text").exists());
    assert!(!dir.exists(), "nothing was written");
}

#[test]
fn an_unwritable_directory_still_serves_prompts() {
    let dir = temp_dir("unwritable");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, b"a file where the cache directory should be").unwrap();
    let engine = Arc::new(FakeEngine::default());
    let cache = cache(&engine, &dir, 1 << 20);
    assert!(cache.get(Voice::En, "hi").is_ok());
    assert!(cache.get(Voice::En, "hi").is_ok());
    let stats = cache.stats();
    assert_eq!(
        (stats.disk_write_errors, stats.renders, stats.memory_hits),
        (1, 1, 1)
    );
    std::fs::remove_file(&dir).unwrap();
}

#[test]
fn prerender_renders_missing_prompts_in_parallel() {
    let dir = temp_dir("prerender");
    let engine = Arc::new(FakeEngine::with_delay(Duration::from_millis(30)));
    let cache = cache(&engine, &dir, 1 << 20).with_prerender_threads(2);
    cache.get(Voice::Zh, "已缓存").unwrap();
    let items: Vec<(Voice, String)> = vec![
        (Voice::Zh, "已缓存".into()),
        (Voice::Zh, "一".into()),
        (Voice::Zh, "二".into()),
        (Voice::En, "three".into()),
        (Voice::En, "four".into()),
        (Voice::En, "four".into()), // duplicate
        (Voice::En, "bad five".into()),
    ];
    let report = cache.prerender(&items);
    assert_eq!(report.requested, 6);
    assert_eq!(
        (report.in_memory, report.from_disk, report.rendered),
        (1, 0, 4)
    );
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].text, "bad five");
    assert!(!report.is_ok());
    assert_eq!(engine.peak_running.load(Ordering::SeqCst), 2);
    // Everything asked for is now served without rendering.
    let renders = engine.renders.load(Ordering::SeqCst);
    for (voice, text) in &items[..6] {
        cache.get(*voice, text).unwrap();
    }
    assert_eq!(engine.renders.load(Ordering::SeqCst), renders);
    assert!(cache.prerender(&[]).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn get_async_runs_on_the_blocking_pool() {
    let dir = temp_dir("async");
    let engine = Arc::new(FakeEngine::default());
    let cache = Arc::new(cache(&engine, &dir, 1 << 20));
    let prompt = cache
        .clone()
        .get_async(Voice::En, "async".into())
        .await
        .unwrap();
    assert_eq!(prompt.len(), 50);
    assert_eq!(cache.stats().renders, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
