//! TTS benchmarks: pinyin conversion of a hotline sentence; a cold render of a new
//! 10-character Mandarin prompt through the cache (miss → espeak-ng → resample → save);
//! cache hits from memory and from disk. Renders need espeak-ng (skipped without it).
//! `cargo bench --bench tts`; figures go to BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hotline::tts::pinyin::to_pinyin;
use hotline::tts::{EspeakNg, TtsCache, TtsEngine, Voice};

const SENTENCE: &str = "您的订单号是202611230001，订单金额为128.50元，预计11月23日送达。";

/// Characters varied to make every cold-render text new (a cache miss).
const VARY: &str = "一二三四五六七八九十百千万天地人山水火木金土日月星云风雨雪花草";

fn pinyin(c: &mut Criterion) {
    let mut group = c.benchmark_group("tts");
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("pinyin_sentence_38_chars", |b| {
        b.iter(|| black_box(to_pinyin(black_box(SENTENCE))))
    });
    group.finish();
}

fn render_and_cache(c: &mut Criterion) {
    let engine: Arc<dyn TtsEngine> = match EspeakNg::new() {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("SKIPPED render benchmarks: {e}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("hotline-tts-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = TtsCache::new(engine.clone(), dir.join("memory"), 64 << 20);
    let disk_only = TtsCache::new(engine, dir.join("disk"), 0);

    let mut group = c.benchmark_group("tts");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let vary: Vec<char> = VARY.chars().collect();
    let mut n = 0usize;
    group.bench_function("render_zh_10_chars_cold", |b| {
        b.iter(|| {
            // 8 fixed + 2 varying characters: a text never seen before.
            let text: String = "您的订单已经发货"
                .chars()
                .chain([vary[n % vary.len()], vary[n / vary.len() % vary.len()]])
                .collect();
            n += 1;
            black_box(cache.get(Voice::Zh, &text).expect("render"))
        })
    });
    group.finish();

    let text = "您的订单已发货请查收";
    cache.get(Voice::Zh, text).expect("render");
    disk_only.get(Voice::Zh, text).expect("render");
    let mut group = c.benchmark_group("tts");
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("cache_hit_memory", |b| {
        b.iter(|| black_box(cache.get(Voice::Zh, black_box(text)).expect("hit")))
    });
    group.bench_function("cache_hit_disk", |b| {
        b.iter(|| black_box(disk_only.get(Voice::Zh, black_box(text)).expect("hit")))
    });
    group.finish();
    let stats = cache.stats();
    eprintln!(
        "cold renders: {}, mean {:.1} ms, max {:.1} ms",
        stats.renders,
        stats.mean_render_ms(),
        stats.render_micros_max as f64 / 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, pinyin, render_and_cache);
criterion_main!(benches);
