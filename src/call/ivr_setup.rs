//! Start-up of the IVR side of calls: the TTS engine and its cache, the flows, and the
//! file-prompt cache, bundled as the [`SessionDeps`] every flow session shares.

use super::ivr_session::{FileCache, SessionDeps};
use crate::ivr::Flow;
use crate::media::worker::MediaPool;
use crate::tts::{EspeakNg, TtsCache};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tracing::{error, info, warn};

/// In-memory budget for rendered prompts (a minute of 8 kHz speech is ~1 MB).
pub const TTS_MEMORY_BYTES: usize = 64 << 20;

/// Builds what flow sessions need. `None` (logged with the fix) when no TTS engine can run:
/// calls to flow numbers then hear the not-in-service prompt instead of silence.
pub fn setup(media: Arc<MediaPool>, flows_dir: &Path, data_dir: &Path) -> Option<SessionDeps> {
    let engine = match EspeakNg::new() {
        Ok(e) => e,
        Err(e) => {
            error!(error = %e, "IVR flows are disabled: no TTS engine");
            return None;
        }
    };
    let tts = Arc::new(TtsCache::new(
        Arc::new(engine),
        TtsCache::dir_in(data_dir),
        TTS_MEMORY_BYTES,
    ));
    let flows = load_dir(flows_dir);
    // Rendered in the background: calls can start meanwhile (a prompt not yet rendered is
    // rendered on demand, shared with the pre-render).
    let (list, cache): (Vec<_>, _) = (flows.values().cloned().collect(), tts.clone());
    std::thread::spawn(move || {
        for flow in list {
            prerender(&cache, &flow);
        }
    });
    Some(SessionDeps {
        media,
        tts,
        flows: Arc::new(flows),
        files: Arc::new(FileCache::default()),
    })
}

/// Loads every `*.yaml` flow of `dir`; a broken file is logged with its errors and skipped.
fn load_dir(dir: &Path) -> HashMap<String, Arc<Flow>> {
    let mut flows = HashMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "no IVR flows loaded (set flows_dir in hotline.toml)");
            return flows;
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    for path in paths {
        match crate::ivr::load_flow(&path) {
            Ok(flow) => {
                info!(flow = %flow.name, file = %path.display(), "flow loaded");
                flows.insert(flow.name.clone(), Arc::new(flow));
            }
            Err(e) => error!(file = %path.display(), "flow not loaded:\n{e}"),
        }
    }
    flows
}

/// Renders every constant `say` of a flow, so no caller waits for synthesis.
pub fn prerender(tts: &TtsCache, flow: &Flow) {
    let prompts: Vec<_> = flow
        .static_prompts()
        .into_iter()
        .filter_map(|s| match s {
            crate::ivr::Speech::Tts { voice, text } => Some((voice, text)),
            _ => None,
        })
        .collect();
    let report = tts.prerender(&prompts);
    if report.failed.is_empty() {
        info!(flow = %flow.name, rendered = report.rendered, cached = report.requested - report.rendered,
            ms = report.elapsed.as_millis() as u64, "flow prompts ready");
    } else {
        warn!(flow = %flow.name, failed = ?report.failed, "some flow prompts cannot be rendered; they will beep");
    }
}
