//! Real espeak-ng renders: Mandarin (through pinyin) and English prompts have speech-like
//! duration and level; the cache in front of the real engine hits, survives a damaged
//! file and keys by voice; engine failures give the documented errors. Skipped, with a
//! message, only when espeak-ng is not installed (scripts/install-deps.sh installs it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotline::tts::level::{dbfs, peak, rms};
use hotline::tts::{EspeakNg, Prompt, TtsCache, TtsEngine, TtsError, Voice};

fn engine() -> Option<EspeakNg> {
    match EspeakNg::new() {
        Ok(e) => Some(e),
        Err(TtsError::EngineMissing { .. }) => {
            eprintln!("SKIPPED: espeak-ng is not installed; run scripts/install-deps.sh");
            None
        }
        Err(e) => panic!("espeak-ng is installed but does not run: {e}"),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hotline-tts-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Share of 20 ms frames that carry sound (RMS above −45 dBFS).
fn voiced_share(p: &Prompt) -> f64 {
    let frames: Vec<&[i16]> = p.samples().chunks(160).collect();
    let voiced = frames.iter().filter(|f| dbfs(rms(f)) > -45.0).count();
    voiced as f64 / frames.len().max(1) as f64
}

/// Checks what every rendered prompt must be: peak at −3 dBFS, speech-like RMS, not
/// clipped, mostly sound.
fn assert_speech_level(what: &str, p: &Prompt) {
    let peak = peak(p.samples());
    assert!(
        (23150..=23250).contains(&peak),
        "{what}: peak {peak}, want −3 dBFS (23197)"
    );
    let rms_db = dbfs(rms(p.samples()));
    assert!(
        (-30.0..=-8.0).contains(&rms_db),
        "{what}: RMS {rms_db:.1} dBFS"
    );
    let clipped = p
        .samples()
        .iter()
        .filter(|s| s.unsigned_abs() >= 32767)
        .count();
    assert_eq!(clipped, 0, "{what}: clipped samples");
    let voiced = voiced_share(p);
    assert!(
        voiced > 0.6,
        "{what}: only {:.0}% of frames carry sound",
        voiced * 100.0
    );
}

fn seconds(p: &Prompt) -> f64 {
    p.len() as f64 / 8000.0
}

fn count_spoken_chars(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_ascii_punctuation() && !"，。？！、：".contains(*c))
        .count()
}

#[test]
fn mandarin_prompts_sound_like_speech() {
    let Some(engine) = engine() else { return };
    for text in [
        "您好，欢迎致电优选商城客服热线。",
        "查询订单请按1，退换货请按2，人工服务请按0。",
        "退款将在3到5个工作日内原路退还到您的银行卡。",
        "请携带好您的行李。",
    ] {
        let p = engine.render(Voice::Zh, text).unwrap();
        let chars = count_spoken_chars(text) as f64;
        let secs = seconds(&p);
        assert!(
            (chars * 0.15..=chars * 0.5).contains(&secs),
            "{text}: {secs:.2} s for {chars} characters"
        );
        assert_speech_level(text, &p);
        eprintln!(
            "zh {secs:.2} s, RMS {:.1} dBFS: {text}",
            dbfs(rms(p.samples()))
        );
    }
}

#[test]
fn english_prompts_sound_like_speech() {
    let Some(engine) = engine() else { return };
    for text in [
        "Welcome to the hotline.",
        "For order status, press 1. For returns, press 2. To speak to an agent, press 0.",
        "Your order total is 128 dollars and 50 cents.",
    ] {
        let p = engine.render(Voice::En, text).unwrap();
        let words = text.split_whitespace().count() as f64;
        let secs = seconds(&p);
        // 150 words a minute is 0.4 s a word; numbers and pauses stretch it.
        assert!(
            (words * 0.2..=words * 0.9).contains(&secs),
            "{text}: {secs:.2} s for {words} words"
        );
        assert_speech_level(text, &p);
    }
}

#[test]
fn digits_read_as_codes_take_longer_than_quantities() {
    let Some(engine) = engine() else { return };
    // 12 digits one by one vs "one hundred twenty-eight".
    let code = engine.render(Voice::Zh, "订单号202611230001").unwrap();
    let amount = engine.render(Voice::Zh, "订单号是128元").unwrap();
    assert!(
        seconds(&code) > seconds(&amount) + 1.0,
        "code {:.2} s vs amount {:.2} s",
        seconds(&code),
        seconds(&amount)
    );
}

#[test]
fn a_ten_character_mandarin_prompt_renders_fast() {
    let Some(engine) = engine() else { return };
    let text = "您的订单已发货请查收"; // 10 characters
    let started = Instant::now();
    let p = engine.render(Voice::Zh, text).unwrap();
    let took = started.elapsed();
    eprintln!(
        "10-character prompt: rendered {:.2} s of audio in {took:?}",
        seconds(&p)
    );
    // Callers must hear no gap: a render has to finish well within a second.
    assert!(took < Duration::from_millis(1000), "render took {took:?}");
}

#[test]
fn cache_in_front_of_espeak_hits_keys_by_voice_and_repairs_files() {
    let Some(engine) = engine() else { return };
    let dir = temp_dir("cache");
    let engine: Arc<dyn TtsEngine> = Arc::new(engine);
    let cache = TtsCache::new(engine.clone(), dir.clone(), 4 << 20);

    let first = cache.get(Voice::Zh, "您好").unwrap();
    let again = cache.get(Voice::Zh, "您好").unwrap();
    assert_eq!(first, again);
    let stats = cache.stats();
    assert_eq!((stats.renders, stats.memory_hits), (1, 1));
    assert!(stats.render_micros_total > 0);

    // The same letters in the other voice are another prompt.
    let en = cache.get(Voice::En, "您好 OK").unwrap();
    let zh = cache.get(Voice::Zh, "您好 OK").unwrap();
    assert_ne!(en.samples(), zh.samples());
    assert_ne!(
        cache.file_for(Voice::En, "您好 OK"),
        cache.file_for(Voice::Zh, "您好 OK")
    );
    assert_eq!(cache.stats().renders, 3);

    // The cache file is an 8 kHz mono 16-bit WAV any player opens.
    let file = cache.file_for(Voice::Zh, "您好");
    assert!(file.starts_with(&dir));
    let wav = hound::WavReader::open(&file).unwrap();
    let spec = wav.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (8000, 1, 16)
    );
    assert_eq!(wav.len() as usize, first.len());

    // A restart reads the file; a damaged file is rendered again, not an error.
    std::fs::write(&file, b"RIFF\0\0\0\0WAVEjunk").unwrap();
    let restarted = TtsCache::new(engine, dir.clone(), 4 << 20);
    assert_eq!(
        restarted.get(Voice::Zh, "您好").unwrap().samples(),
        first.samples()
    );
    assert_eq!(
        restarted.get(Voice::En, "您好 OK").unwrap().samples(),
        en.samples()
    );
    let stats = restarted.stats();
    assert_eq!(
        (stats.corrupt_files, stats.renders, stats.disk_hits),
        (1, 1, 1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prerender_prepares_a_flows_prompts() {
    let Some(engine) = engine() else { return };
    let dir = temp_dir("prerender");
    let cache = TtsCache::new(Arc::new(engine), dir.clone(), 8 << 20);
    let items: Vec<(Voice, String)> = [
        (Voice::Zh, "您好，欢迎致电。"),
        (Voice::Zh, "查询订单请按1。"),
        (Voice::Zh, "人工服务请按0。"),
        (Voice::En, "Welcome."),
        (Voice::En, "Goodbye."),
    ]
    .into_iter()
    .map(|(v, t)| (v, t.to_owned()))
    .collect();
    let report = cache.prerender(&items);
    assert!(report.is_ok(), "{:?}", report.failed);
    assert_eq!((report.requested, report.rendered), (5, 5));
    eprintln!("prerendered 5 prompts in {:?}", report.elapsed);
    let again = cache.prerender(&items);
    assert_eq!((again.in_memory, again.rendered), (5, 0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stand-in espeak-ng that answers `--version` and then behaves as `body` says.
fn fake_espeak(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("espeak-ng");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'eSpeak NG text-to-speech: 9.9  Data at: /x'; exit 0; fi\ncat >/dev/null\n{body}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn engine_failures_have_clear_errors() {
    let dir = temp_dir("errors");

    let missing = EspeakNg::with_program(dir.join("no-such-espeak")).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("install espeak-ng (scripts/install-deps.sh)"),
        "{missing}"
    );

    let no_voice = fake_espeak(
        &dir,
        "echo 'Error: The specified espeak-ng voice does not exist.' >&2; exit 1",
    );
    let engine = EspeakNg::with_program(&no_voice).unwrap();
    assert_eq!(engine.version(), "9.9");
    let err = engine.render(Voice::Zh, "您好").unwrap_err();
    assert!(
        matches!(
            err,
            TtsError::VoiceMissing {
                engine_voice: "cmn-latn-pinyin",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("espeak-ng-data"), "{err}");

    let silent = fake_espeak(&dir, "exit 0");
    let err = EspeakNg::with_program(&silent)
        .unwrap()
        .render(Voice::En, "hi")
        .unwrap_err();
    assert!(matches!(err, TtsError::EmptyOutput { .. }), "{err:?}");

    let hung = fake_espeak(&dir, "exec sleep 30");
    let engine = EspeakNg::with_program(&hung)
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = engine.render(Voice::En, "hi").unwrap_err();
    assert!(matches!(err, TtsError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the child was not killed in time"
    );

    let err = engine.render(Voice::Zh, "😀。").unwrap_err();
    assert!(matches!(err, TtsError::NothingToSay { .. }), "{err:?}");
    let err = engine.render(Voice::En, &"a".repeat(5000)).unwrap_err();
    assert!(matches!(err, TtsError::TextTooLong { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
