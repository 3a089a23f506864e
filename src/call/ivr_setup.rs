//! Start-up of the IVR side of calls: the TTS engine and its cache, the flows, and the
//! file-prompt cache, bundled as the [`SessionDeps`] every flow session shares.

use super::flow_registry::FlowRegistry;
use super::ivr_session::{FileCache, SessionDeps};
use crate::ivr::Flow;
use crate::media::worker::MediaPool;
use crate::tts::{EspeakNg, TtsCache};
use std::path::Path;
use std::sync::Arc;
use tracing::{error, info, warn};

/// In-memory budget for rendered prompts (a minute of 8 kHz speech is ~1 MB).
pub const TTS_MEMORY_BYTES: usize = 64 << 20;

/// Loads and watches the flows, and builds what flow sessions need. The deps are `None`
/// (logged with the fix) when no TTS engine can run: calls to flow numbers then hear the
/// not-in-service prompt instead of silence.
pub fn setup(
    media: Arc<MediaPool>,
    flows_dir: &Path,
    data_dir: &Path,
) -> (Arc<FlowRegistry>, Option<SessionDeps>) {
    let registry = Arc::new(FlowRegistry::open(flows_dir));
    let engine = match EspeakNg::new() {
        Ok(e) => e,
        Err(e) => {
            error!(error = %e, "IVR flows are disabled: no TTS engine");
            return (registry, None);
        }
    };
    let tts = Arc::new(TtsCache::new(
        Arc::new(engine),
        TtsCache::dir_in(data_dir),
        TTS_MEMORY_BYTES,
    ));
    // Rendered in the background: calls can start meanwhile (a prompt not yet rendered is
    // rendered on demand, shared with the pre-render). Edited flows are rendered as they
    // come into service.
    let (list, cache) = (registry.all(), tts.clone());
    std::thread::spawn(move || {
        for flow in list {
            prerender(&cache, &flow);
        }
    });
    let cache = tts.clone();
    registry.watch(move |flow| prerender(&cache, flow));
    let deps = SessionDeps {
        media,
        tts,
        flows: registry.clone(),
        files: Arc::new(FileCache::default()),
    };
    (registry, Some(deps))
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
