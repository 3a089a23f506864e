//! The live set of IVR flows: every `*.yaml` of the flows directory, re-read when a file
//! changes. A call takes an `Arc<Flow>` when it is answered and keeps that version to its
//! end; an edit only reaches new calls. A broken edit keeps the last good version live and
//! is reported (log once per distinct error, and `GET /api/v1/flows`).

use crate::ivr::{Flow, FlowLookup, load_flow};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tracing::{error, info, warn};

/// How often the directory is scanned: an edit is live within 2 × this plus a load.
pub const SCAN_INTERVAL: Duration = Duration::from_millis(500);

/// What a scan notices of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
}

/// One flow file as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FlowStatus {
    pub file: String,
    /// The flow name of the version in service (`None`: the file never loaded).
    pub flow: Option<String>,
    /// When the version in service was loaded (RFC 3339).
    pub loaded_at: Option<String>,
    /// Why the file as it is now on disk is not in service (every problem, file:line:col).
    pub error: Option<String>,
    pub error_since: Option<String>,
}

struct FileState {
    fingerprint: Fingerprint,
    status: FlowStatus,
}

#[derive(Default)]
struct State {
    flows: HashMap<String, Arc<Flow>>,
    files: BTreeMap<PathBuf, FileState>,
}

pub struct FlowRegistry {
    dir: PathBuf,
    state: RwLock<State>,
}

impl FlowLookup for FlowRegistry {
    fn flow(&self, name: &str) -> Option<Arc<Flow>> {
        self.state.read().ok()?.flows.get(name).cloned()
    }
}

impl FlowRegistry {
    /// Loads every flow of `dir` now (a missing directory is logged, and watched).
    pub fn open(dir: &Path) -> FlowRegistry {
        let reg = FlowRegistry {
            dir: dir.to_path_buf(),
            state: RwLock::new(State::default()),
        };
        if !dir.is_dir() {
            warn!(dir = %dir.display(), "no IVR flows: the flows directory does not exist (flows_dir in hotline.toml)");
        }
        reg.scan(Utc::now());
        reg
    }

    /// Re-reads the files that changed since the last scan; returns the flows that came
    /// into service (new or edited), so their prompts can be rendered.
    pub fn scan(&self, now: DateTime<Utc>) -> Vec<Arc<Flow>> {
        let on_disk = list(&self.dir);
        let Ok(mut state) = self.state.write() else {
            return Vec::new();
        };
        let mut loaded = Vec::new();
        // Deleted files take their flow out of service.
        let gone: Vec<PathBuf> = state
            .files
            .keys()
            .filter(|p| !on_disk.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            if let Some(old) = state.files.remove(&path)
                && let Some(name) = old.status.flow
            {
                state.flows.remove(&name);
                info!(flow = %name, file = %path.display(), "flow file removed; flow out of service");
            }
        }
        for (path, fingerprint) in on_disk {
            if state
                .files
                .get(&path)
                .is_some_and(|f| f.fingerprint == fingerprint)
            {
                continue;
            }
            let result = load_flow(&path).map_err(|e| e.to_string());
            let loaded_now = apply(&mut state, &path, fingerprint, result, now);
            loaded.extend(loaded_now);
        }
        loaded
    }

    pub fn status(&self) -> Vec<FlowStatus> {
        self.state
            .read()
            .map(|s| s.files.values().map(|f| f.status.clone()).collect())
            .unwrap_or_default()
    }

    /// Scans every [`SCAN_INTERVAL`] on its own thread for the life of the process;
    /// `on_loaded` gets each flow that comes into service (to pre-render its prompts).
    pub fn watch(self: &Arc<Self>, on_loaded: impl Fn(&Flow) + Send + 'static) {
        let reg = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("flow-watch".into())
            .spawn(move || {
                while let Some(reg) = reg.upgrade() {
                    for flow in reg.scan(Utc::now()) {
                        on_loaded(&flow);
                    }
                    drop(reg);
                    std::thread::sleep(SCAN_INTERVAL);
                }
            });
        if let Err(e) = spawned {
            error!(error = %e, "cannot watch the flows directory; edits need a restart");
        }
    }

    pub fn all(&self) -> Vec<Arc<Flow>> {
        self.state
            .read()
            .map(|s| s.flows.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Takes one (re)load result into the state: the pure part of a scan.
fn apply(
    state: &mut State,
    path: &Path,
    fingerprint: Fingerprint,
    result: Result<Flow, String>,
    now: DateTime<Utc>,
) -> Option<Arc<Flow>> {
    let file = path.display().to_string();
    let entry = state
        .files
        .entry(path.to_path_buf())
        .or_insert_with(|| FileState {
            fingerprint,
            status: FlowStatus {
                file: file.clone(),
                flow: None,
                loaded_at: None,
                error: None,
                error_since: None,
            },
        });
    entry.fingerprint = fingerprint;
    let owner_of = |name: &str, files: &BTreeMap<PathBuf, FileState>| {
        files
            .iter()
            .find(|(p, f)| p.as_path() != path && f.status.flow.as_deref() == Some(name))
            .map(|(p, _)| p.display().to_string())
    };
    let result = result.and_then(|flow| match owner_of(&flow.name, &state.files) {
        Some(other) => Err(format!(
            "{file}: flow \"{}\" is already defined by {other}; give one of them another `flow:` name",
            flow.name
        )),
        None => Ok(flow),
    });
    let entry = state.files.get_mut(path)?;
    match result {
        Ok(flow) => {
            for w in flow.warnings() {
                warn!(flow = %flow.name, "{w}");
            }
            let flow = Arc::new(flow);
            if let Some(old) = entry.status.flow.replace(flow.name.clone())
                && old != flow.name
            {
                state.flows.remove(&old);
            }
            entry.status.loaded_at = Some(now.to_rfc3339());
            entry.status.error = None;
            entry.status.error_since = None;
            info!(flow = %flow.name, %file, "flow in service");
            state.flows.insert(flow.name.clone(), flow.clone());
            Some(flow)
        }
        Err(e) => {
            if entry.status.error.as_deref() != Some(e.as_str()) {
                match &entry.status.flow {
                    Some(name) => {
                        error!(flow = %name, "edit of {file} not taken; the previous version stays in service:\n{e}")
                    }
                    None => error!("flow file {file} not loaded:\n{e}"),
                }
                entry.status.error_since = Some(now.to_rfc3339());
            }
            entry.status.error = Some(e);
            None
        }
    }
}

fn list(dir: &Path) -> BTreeMap<PathBuf, Fingerprint> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            Some((
                p,
                Fingerprint {
                    modified: meta.modified().ok(),
                    len: meta.len(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "flow: demo\nlanguage: en\nstart: hello\nnodes:\n  hello:\n    say: Hello\n    next: bye\n  bye:\n    hangup: normal\n";

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hotline-flows-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Writes a file and moves its mtime forward, so an edit within the same clock tick
    /// is still seen (the scan compares mtime and length).
    fn write(path: &Path, text: &str, age: u64) {
        std::fs::write(path, text).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + age))
            .unwrap();
    }

    #[test]
    fn edits_reach_new_lookups_broken_edits_keep_the_last_good_version() {
        let dir = tempdir();
        let file = dir.join("demo.yaml");
        write(&file, FLOW, 0);
        let reg = FlowRegistry::open(&dir);
        let v1 = reg.flow("demo").expect("loaded at open");
        assert!(reg.scan(Utc::now()).is_empty(), "nothing changed");

        write(&file, &FLOW.replace("Hello", "Hello again"), 1);
        let loaded = reg.scan(Utc::now());
        assert_eq!(loaded.len(), 1);
        let v2 = reg.flow("demo").unwrap();
        assert!(!Arc::ptr_eq(&v1, &v2), "a new version for new calls");
        assert_ne!(
            v1.static_prompts(),
            v2.static_prompts(),
            "the old call keeps v1"
        );

        write(&file, "flow: demo\nstart: [\n", 2);
        assert!(reg.scan(Utc::now()).is_empty());
        assert!(
            Arc::ptr_eq(&reg.flow("demo").unwrap(), &v2),
            "v2 stays in service"
        );
        let st = reg.status();
        assert_eq!(st.len(), 1);
        let err = st[0].error.as_deref().expect("the error is shown");
        assert!(err.contains("demo.yaml:"), "{err}");
        assert!(st[0].error_since.is_some() && st[0].flow.as_deref() == Some("demo"));

        std::fs::remove_file(&file).unwrap();
        reg.scan(Utc::now());
        assert!(reg.flow("demo").is_none());
        assert!(reg.status().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_file_with_the_same_flow_name_is_refused() {
        let dir = tempdir();
        write(&dir.join("a.yaml"), FLOW, 0);
        write(&dir.join("b.yaml"), &FLOW.replace("Hello", "Other"), 0);
        let reg = FlowRegistry::open(&dir);
        let st = reg.status();
        assert_eq!(st.len(), 2);
        assert!(st[0].error.is_none());
        let e = st[1].error.as_deref().unwrap();
        assert!(
            e.contains("already defined by") && e.contains("a.yaml"),
            "{e}"
        );
        assert_eq!(
            reg.flow("demo").unwrap().static_prompts(),
            load_flow(&dir.join("a.yaml")).unwrap().static_prompts()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_watcher_picks_up_an_edit_within_two_seconds() {
        let dir = tempdir();
        let file = dir.join("demo.yaml");
        write(&file, FLOW, 0);
        let reg = Arc::new(FlowRegistry::open(&dir));
        let (tx, rx) = std::sync::mpsc::channel();
        reg.watch(move |f| {
            let _ = tx.send(f.name.clone());
        });
        write(&file, &FLOW.replace("Hello", "Hi"), 5);
        let got = rx.recv_timeout(Duration::from_secs(2));
        assert_eq!(got.as_deref(), Ok("demo"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
