//! Why a prompt could not be spoken. Each message says what is wrong and what to do.

use std::path::PathBuf;
use std::time::Duration;

use crate::media::resample::PromptError;

use super::Voice;

/// A TTS failure: engine missing or broken, text it cannot say, audio it produced badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TtsError {
    #[error(
        "the TTS program {program} was not found: install espeak-ng (scripts/install-deps.sh), \
         or point the engine at the binary's full path"
    )]
    EngineMissing { program: PathBuf },
    #[error(
        "the TTS program {program} did not answer `--version` ({detail}); check the install \
         (scripts/install-deps.sh) or the path"
    )]
    ProbeFailed { program: PathBuf, detail: String },
    #[error("cannot start the TTS program {program}: {source}; check that it is executable")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "espeak-ng has no voice {engine_voice} (needed for {voice} prompts): install the \
         espeak-ng-data package (scripts/install-deps.sh)"
    )]
    VoiceMissing {
        voice: Voice,
        engine_voice: &'static str,
    },
    #[error("{voice} prompt {text:?} has nothing to speak after text clean-up; write words")]
    NothingToSay { voice: Voice, text: String },
    #[error(
        "{voice} prompt is {chars} characters, more than the {max} one render accepts; \
         split it into several say nodes"
    )]
    TextTooLong {
        voice: Voice,
        chars: usize,
        max: usize,
    },
    #[error(
        "espeak-ng took longer than {after:?} to render {voice} prompt {text:?} and was \
         stopped; shorten the text or raise the TTS timeout"
    )]
    Timeout {
        voice: Voice,
        text: String,
        after: Duration,
    },
    #[error("espeak-ng failed ({status}) on {voice} prompt {text:?}: {stderr}")]
    EngineFailed {
        voice: Voice,
        text: String,
        status: String,
        stderr: String,
    },
    #[error(
        "espeak-ng produced no audible audio for {voice} prompt {text:?}; check the text \
         (pinyin for zh is shown by `espeak-ng -x`) and the espeak-ng install"
    )]
    EmptyOutput { voice: Voice, text: String },
    #[error("espeak-ng wrote audio we cannot read: {0}")]
    BadAudio(#[from] PromptError),
    #[error("TTS worker for {voice} prompt {text:?} stopped unexpectedly: {detail}")]
    Worker {
        voice: Voice,
        text: String,
        detail: String,
    },
    #[error("cannot use TTS cache directory {path}: {source}; check it exists and is writable")]
    CacheDir {
        path: PathBuf,
        source: std::io::Error,
    },
}
