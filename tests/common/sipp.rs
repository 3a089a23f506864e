//! SIPp 3.6 (package sip-tester): runs to completion or in the background, each in its own
//! directory (scenario-relative pcaps live there), with every log kept for failure reports.

use super::{TempDir, require_binary};
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What one SIPp run left behind.
pub struct SippRun {
    /// Exit code: 0 = every call succeeded, 1 = some failed, others = SIPp's own trouble.
    pub code: Option<i32>,
    /// The `-trace_err` log: every unexpected message.
    pub errors: String,
    /// The `-trace_stat` CSV (header line + one line per dump).
    pub stats: String,
    /// The `-trace_msg` log (small runs only).
    pub messages: String,
    pub stdout: String,
    pub stderr: String,
    pub dir: TempDir,
}

impl SippRun {
    /// A counter from the last line of the statistics CSV, e.g. `SuccessfulCall(C)`.
    pub fn stat(&self, column: &str) -> Option<u64> {
        let mut lines = self.stats.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last: Vec<&str> = lines.next_back()?.split(';').collect();
        let idx = header.iter().position(|h| h.trim() == column)?;
        last.get(idx)?.trim().parse().ok()
    }

    /// Everything a failure message needs.
    pub fn report(&self) -> String {
        let out: Vec<&str> = self.stdout.lines().collect();
        format!(
            "sipp exit code {:?}; successful={:?} failed={:?}\n--- errors log ---\n{}\n\
             --- stderr ---\n{}\n--- stdout tail ---\n{}\n--- messages (last 6000 bytes) ---\n{}",
            self.code,
            self.stat("SuccessfulCall(C)"),
            self.stat("FailedCall(C)"),
            truncate(&self.errors, 4000),
            truncate(&self.stderr, 2000),
            out[out.len().saturating_sub(24)..].join("\n"),
            last_bytes(&self.messages, 6000)
        )
    }
}

fn last_bytes(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Bound on one SIPp run: its own `-timeout 60s` plus slack.
pub const SIPP_WAIT: Duration = Duration::from_secs(90);

/// Where Debian's sip-tester keeps SIPp's stock pcaps (g711a.pcap, dtmf_2833_*.pcap).
pub const SIPP_PCAPS: &str = "/usr/share/sip-tester";

/// Runs `sipp ARGS` in a temp dir with the standard loopback/trace options added; bounded by
/// SIPp's own `-timeout 60s` (a timeout counts as failure).
pub fn sipp(args: &[&str]) -> SippRun {
    sipp_in(TempDir::new("sipp"), args)
}

/// As [`sipp`], run in `dir`: scenario-relative files (`pcap/…`) are looked up there.
pub fn sipp_in(dir: TempDir, args: &[&str]) -> SippRun {
    Sipp::spawn(dir, args).finish(SIPP_WAIT)
}

/// A run directory whose `pcap/` holds SIPp's stock pcaps (what `-sn uac_pcap` plays), for
/// [`sipp_in`] and [`Sipp::spawn`]; add generated pcaps next to them. Checks that we are
/// root, which playing pcaps needs.
pub fn sipp_dir_with_pcaps() -> TempDir {
    require_binary("sipp");
    // play_pcap_audio sends through a raw socket.
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(str::to_string)
        })
        .unwrap_or_default();
    assert!(
        uid == "0",
        "SIPp's play_pcap_audio needs root (a raw socket); run the media tests as root \
         (effective uid here: {uid:?})"
    );
    let stock = Path::new(SIPP_PCAPS);
    assert!(
        stock.join("g711a.pcap").is_file(),
        "{SIPP_PCAPS}/g711a.pcap is missing (package sip-tester): run scripts/install-deps.sh test"
    );
    let dir = TempDir::new("sipp");
    let pcap = dir.path().join("pcap");
    fs::create_dir_all(&pcap).expect("create pcap dir");
    for e in fs::read_dir(stock).expect("list stock pcaps").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "pcap")
            && let Some(name) = p.file_name()
        {
            fs::copy(&p, pcap.join(name)).expect("copy a stock pcap");
        }
    }
    dir
}

/// A SIPp process running in the background (e.g. a call held up while the test signals
/// the server); killed on drop.
pub struct Sipp {
    child: Option<Child>,
    dir: Option<TempDir>,
}

impl Sipp {
    /// Starts `sipp ARGS` in `dir` with the standard options (see [`sipp`]); a run longer
    /// than a minute (a load benchmark) passes its own `-timeout`.
    pub fn spawn(dir: TempDir, args: &[&str]) -> Sipp {
        let bin = require_binary("sipp");
        let p = |name: &str| dir.path().join(name);
        // Every message goes to a log for failure reports, unless the run is a big load run.
        let calls: u64 = args
            .iter()
            .position(|a| *a == "-m")
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(u64::MAX);
        let mut cmd = Command::new(bin);
        if calls <= 100 {
            cmd.arg("-trace_msg")
                .arg("-message_file")
                .arg(p("messages.log"));
        }
        let child = cmd
            .args(args)
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin"])
            .args(if args.contains(&"-timeout") {
                &["-timeout_error"][..]
            } else {
                &["-timeout", "60s", "-timeout_error"][..]
            })
            .arg("-trace_err")
            .arg("-error_file")
            .arg(p("errors.log"))
            .arg("-trace_stat")
            .arg("-stf")
            .arg(p("stat.csv"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(fs::File::create(p("stdout.txt")).expect("create sipp stdout"))
            .stderr(fs::File::create(p("stderr.txt")).expect("create sipp stderr"))
            .spawn()
            .expect("run sipp");
        Sipp {
            child: Some(child),
            dir: Some(dir),
        }
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits (bounded by `wait`) for SIPp to exit, killing it past that (then `code` is
    /// `None`), and collects what it left behind.
    pub fn finish(mut self, wait: Duration) -> SippRun {
        let mut child = self.child.take().expect("sipp child");
        let dir = self.dir.take().expect("sipp dir");
        let deadline = Instant::now() + wait;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let read = |name: &str| {
            fs::read(dir.path().join(name))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let mut stderr = read("stderr.txt");
        if status.is_none() {
            stderr.push_str(&format!(
                "\n(sipp still running after {wait:?}: killed by the test)"
            ));
        }
        SippRun {
            code: status.and_then(|s| s.code()),
            errors: read("errors.log"),
            stats: read("stat.csv"),
            messages: read("messages.log"),
            stdout: read("stdout.txt"),
            stderr,
            dir,
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The path of `tests/sipp/NAME`, checked to exist.
pub fn scenario(name: &str) -> String {
    let path = super::test_path(&format!("sipp/{name}"));
    assert!(path.is_file(), "missing scenario {}", path.display());
    path.display().to_string()
}

/// Exit code 0 and the statistics agree: `calls` succeeded, none failed.
pub fn assert_sipp_succeeded(run: &SippRun, calls: u64) {
    let ok = run.code == Some(0)
        && run.stat("SuccessfulCall(C)") == Some(calls)
        && run.stat("FailedCall(C)") == Some(0);
    assert!(
        ok,
        "SIPp: expected {calls} successful call(s):\n{}",
        run.report()
    );
}

/// A base for SIPp's `-mp` (its RTP ports) from the peers' block, so parallel SIPp runs do
/// not fight over the default 6000.
pub fn sipp_media_port() -> String {
    let (first, _) = super::free_udp_range(100, super::RangeUse::Peer);
    first.to_string()
}
