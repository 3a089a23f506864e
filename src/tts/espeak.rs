//! The espeak-ng engine: runs the `espeak-ng` program once per prompt, reading WAV from its
//! stdout. Mandarin goes through the `cmn-latn-pinyin` voice fed tone-numbered pinyin
//! (the only way espeak-ng speaks Mandarin intelligibly), English through `en-us`.
//! The audio is resampled to 8 kHz, trimmed and peak-normalised here, not by sox.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::media::resample::{Prompt, PromptError, decode_prompt};

use super::level::{TARGET_PEAK_DBFS, normalize_peak, trim_silence};
use super::{TtsEngine, TtsError, Voice, english, pinyin};

/// Speaking rate in words per minute; 150 is the rate of the shipped prompts.
pub const DEFAULT_WORDS_PER_MINUTE: u32 = 150;

/// Longest a single render may take before the child is killed. A long prompt renders in
/// well under a second; this only stops a hung process.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest text one render accepts, in characters (a few minutes of speech). Also keeps
/// what is written to the child's stdin below the pipe buffer, so writing never blocks.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Bytes of converted text we hand espeak-ng, at most (pinyin is ~7 bytes a character).
const MAX_INPUT_BYTES: usize = 32 * 1024;

/// The espeak-ng program as a [`TtsEngine`].
#[derive(Debug, Clone)]
pub struct EspeakNg {
    program: PathBuf,
    version: String,
    words_per_minute: u32,
    timeout: Duration,
    revision: String,
}

impl EspeakNg {
    /// Finds `espeak-ng` on the PATH and checks it runs.
    pub fn new() -> Result<Self, TtsError> {
        Self::with_program("espeak-ng")
    }

    /// Uses the given program (a name on the PATH or a path) and checks it runs.
    pub fn with_program(program: impl Into<PathBuf>) -> Result<Self, TtsError> {
        let program = program.into();
        let probe_failed = |detail: String| TtsError::ProbeFailed {
            program: program.clone(),
            detail,
        };
        let out = match run(&program, &["--version"], b"", DEFAULT_TIMEOUT) {
            Ok(out) if out.status.success() => out,
            Ok(out) => return Err(probe_failed(out.status.to_string())),
            Err(RunError::TimedOut) => return Err(probe_failed("no answer".to_owned())),
            Err(e) => return Err(e.into_tts(&program)),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text).to_owned();
        let mut engine = Self {
            program,
            version,
            words_per_minute: DEFAULT_WORDS_PER_MINUTE,
            timeout: DEFAULT_TIMEOUT,
            revision: String::new(),
        };
        engine.update_revision();
        Ok(engine)
    }

    /// Sets the speaking rate (clamped to espeak-ng's 80–450 wpm).
    pub fn with_speed(mut self, words_per_minute: u32) -> Self {
        self.words_per_minute = words_per_minute.clamp(80, 450);
        self.update_revision();
        self
    }

    /// Sets the per-render time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// espeak-ng's version, e.g. `1.51`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The espeak-ng voice used for `voice`.
    pub fn engine_voice(voice: Voice) -> &'static str {
        match voice {
            Voice::Zh => "cmn-latn-pinyin",
            Voice::En => "en-us",
        }
    }

    /// The text espeak-ng is given for `text`: pinyin for Mandarin, cleaned English.
    pub fn engine_text(voice: Voice, text: &str) -> String {
        match voice {
            Voice::Zh => pinyin::to_pinyin(text),
            Voice::En => english::prepare(text),
        }
    }

    fn update_revision(&mut self) {
        self.revision = format!(
            "espeak-ng {}; {} wpm; pinyin rules {}; peak {} dBFS",
            self.version,
            self.words_per_minute,
            pinyin::RULES_REVISION,
            TARGET_PEAK_DBFS
        );
    }
}

impl TtsEngine for EspeakNg {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn revision(&self) -> &str {
        &self.revision
    }

    fn render(&self, voice: Voice, text: &str) -> Result<Prompt, TtsError> {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(TtsError::TextTooLong {
                voice,
                chars,
                max: MAX_TEXT_CHARS,
            });
        }
        let input = Self::engine_text(voice, text);
        if !input.chars().any(|c| c.is_alphanumeric()) {
            return Err(TtsError::NothingToSay {
                voice,
                text: text.to_owned(),
            });
        }
        if input.len() > MAX_INPUT_BYTES {
            return Err(TtsError::TextTooLong {
                voice,
                chars,
                max: MAX_TEXT_CHARS,
            });
        }
        let engine_voice = Self::engine_voice(voice);
        let wpm = self.words_per_minute.to_string();
        let args = ["-v", engine_voice, "-s", &wpm, "-b", "1", "--stdout"];
        let out = match run(&self.program, &args, input.as_bytes(), self.timeout) {
            Ok(out) => out,
            Err(RunError::TimedOut) => {
                return Err(TtsError::Timeout {
                    voice,
                    text: text.to_owned(),
                    after: self.timeout,
                });
            }
            Err(e) => return Err(e.into_tts(&self.program)),
        };
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if !out.status.success() {
            let lower = stderr.to_ascii_lowercase();
            if lower.contains("voice")
                && (lower.contains("does not exist") || lower.contains("not found"))
            {
                return Err(TtsError::VoiceMissing {
                    voice,
                    engine_voice,
                });
            }
            return Err(TtsError::EngineFailed {
                voice,
                text: text.to_owned(),
                status: out.status.to_string(),
                stderr,
            });
        }
        let name = prompt_name(voice, text);
        let empty = || TtsError::EmptyOutput {
            voice,
            text: text.to_owned(),
        };
        if out.stdout.is_empty() {
            return Err(empty());
        }
        let decoded = match decode_prompt(&name, &out.stdout) {
            Ok(p) => p,
            Err(PromptError::Empty { .. }) => return Err(empty()),
            Err(e) => return Err(TtsError::BadAudio(e)),
        };
        let mut samples = trim_silence(decoded.samples()).to_vec();
        if !normalize_peak(&mut samples, TARGET_PEAK_DBFS) {
            return Err(empty());
        }
        Ok(Prompt::new(name, samples))
    }
}

/// A short label for logs and prompt names: `tts:zh:您好，欢迎…`.
pub(crate) fn prompt_name(voice: Voice, text: &str) -> String {
    const SHOWN: usize = 24;
    let mut name = format!("tts:{voice}:");
    name.extend(text.chars().take(SHOWN));
    if text.chars().nth(SHOWN).is_some() {
        name.push('…');
    }
    name
}

/// `eSpeak NG text-to-speech: 1.51  Data at: …` → `1.51`.
fn parse_version(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("").trim();
    line.split_once("text-to-speech:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or(line)
}

/// Why a child process gave no output.
#[derive(Debug)]
enum RunError {
    Missing,
    Spawn(std::io::Error),
    TimedOut,
}

impl RunError {
    /// The error for a failure other than a timeout (the caller knows what timed out).
    fn into_tts(self, program: &Path) -> TtsError {
        let program = program.to_owned();
        match self {
            RunError::Missing => TtsError::EngineMissing { program },
            RunError::Spawn(source) => TtsError::Spawn { program, source },
            RunError::TimedOut => TtsError::ProbeFailed {
                program,
                detail: "timed out".to_owned(),
            },
        }
    }
}

struct RunOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `program args`, writes `input` to its stdin, and collects its output, killing it
/// after `timeout`. Pipes are drained on helper threads so the child never stalls on a
/// full pipe.
fn run(
    program: &Path,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> Result<RunOutput, RunError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => RunError::Missing,
            _ => RunError::Spawn(source),
        })?;
    // The input is smaller than the pipe buffer, so this cannot block; a child that
    // exits without reading it only makes the write fail, which its status reports.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let stderr_reader = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    });
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    } else {
        let _ = tx.send(Vec::new());
    }
    let stdout = match rx.recv_timeout(timeout) {
        Ok(buf) => buf,
        Err(_) => {
            // The reader threads end when the pipes close; they are not joined, so a
            // grandchild holding a pipe open cannot stall us.
            stop(&mut child);
            return Err(RunError::TimedOut);
        }
    };
    let status = child.wait().map_err(RunError::Spawn)?;
    let stderr = stderr_reader
        .and_then(|reader| reader.join().ok())
        .unwrap_or_default();
    Ok(RunOutput {
        status,
        stdout,
        stderr,
    })
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_is_parsed() {
        assert_eq!(
            parse_version("eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/x\n"),
            "1.51"
        );
        assert_eq!(parse_version("something else\n"), "something else");
        assert_eq!(parse_version(""), "");
    }

    #[test]
    fn prompt_names_are_short() {
        assert_eq!(prompt_name(Voice::Zh, "您好"), "tts:zh:您好");
        let long = "a".repeat(30);
        assert_eq!(
            prompt_name(Voice::En, &long),
            format!("tts:en:{}…", "a".repeat(24))
        );
    }

    #[test]
    fn missing_program_says_how_to_install() {
        let err = EspeakNg::with_program("/nonexistent/espeak-ng").unwrap_err();
        assert!(matches!(err, TtsError::EngineMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("scripts/install-deps.sh"), "{err}");
    }

    #[test]
    fn a_hung_program_is_killed_at_the_timeout() {
        // `sleep` ignores its stdin and never writes: stands in for a hung espeak-ng.
        let started = std::time::Instant::now();
        let result = run(Path::new("sleep"), &["30"], b"", Duration::from_millis(200));
        assert!(matches!(result, Err(RunError::TimedOut)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn engine_text_is_pinyin_for_mandarin() {
        assert_eq!(EspeakNg::engine_text(Voice::Zh, "银行"), "yin2 hang2");
        assert_eq!(
            EspeakNg::engine_text(Voice::En, "Order 12345"),
            "Order 1 2 3 4 5"
        );
    }
}
