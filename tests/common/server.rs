//! The server under test: `hotline serve` started on free loopback ports with a config
//! written from [`Opts`], signalled, killed and restarted, and its CDRs read back through
//! `hotline calls list --json` and `GET /api/v1/calls`.

use super::{
    RangeUse, TempDir, free_port_udp_tcp, free_tcp_port, free_udp_range, options_udp,
    require_binary, tail,
};
use serde_json::Value;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to answer its first OPTIONS.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What the test server's SIP profile says. `Default` is a plain answering server.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Where SIP listens (UDP and TCP); `None` picks a free port on 127.0.0.1.
    pub sip_listen: Option<SocketAddr>,
    /// How long an inbound call rings before it is answered.
    pub ring_ms: u64,
    /// The server hangs up a call after this long.
    pub max_call_seconds: u64,
    /// Codecs offered/accepted, in preference order.
    pub codecs: Vec<String>,
    /// Registrar users `(username, password)`.
    pub users: Vec<(String, String)>,
    /// Requests per second per source outside the trunks (`0` = off). Our loopback peers
    /// are a trunk, which is never limited.
    pub rate_limit: u32,
    /// RFC 3261 T1 in ms (`[timers] t1_ms`); `None` keeps the server's default.
    pub t1_ms: Option<u32>,
    /// Extra top-level profile keys, written verbatim before the tables.
    pub extra: String,
    /// `[media] rtp_timeout_secs` of hotline.toml; `None` keeps the server's default.
    pub rtp_timeout_secs: Option<u64>,
    /// `[media] record`; `None` keeps the server's default (record every call).
    pub record: Option<bool>,
    /// `[media] shutdown_grace_secs`; `None` keeps the server's default.
    pub shutdown_grace_secs: Option<u64>,
    /// `[media] workers`; `None` keeps the server's default (one per core).
    pub media_workers: Option<usize>,
    /// `[media] opus_complexity`; `None` keeps the server's default.
    pub opus_complexity: Option<u8>,
    /// `[numbers]` entries `(number, app)`, e.g. `("9196", "echo")`, `("default",
    /// "welcome")`; empty keeps the built-in plan.
    pub numbers: Vec<(String, String)>,
    /// `prompts_dir` (see [`make_prompts`]); `None` leaves it unset, so the apps beep.
    pub prompts_dir: Option<PathBuf>,
    /// `flows_dir` (IVR flow files); `None` leaves it unset.
    pub flows_dir: Option<PathBuf>,
    /// `[numbers]` lines written verbatim (e.g. flow routes with vars), after `numbers`.
    pub numbers_toml: String,
    /// Tables appended to hotline.toml verbatim, e.g. `[[queues]]`.
    pub tables_toml: String,
    /// RUST_LOG for the server; `None`: debug (tests read the log).
    pub rust_log: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            sip_listen: None,
            ring_ms: 0,
            max_call_seconds: 3600,
            codecs: vec!["PCMU".into(), "PCMA".into()],
            users: vec![("1001".into(), "secret".into())],
            rate_limit: 0,
            t1_ms: None,
            extra: String::new(),
            rtp_timeout_secs: None,
            record: None,
            shutdown_grace_secs: None,
            media_workers: None,
            opus_complexity: None,
            numbers: Vec::new(),
            prompts_dir: None,
            flows_dir: None,
            numbers_toml: String::new(),
            tables_toml: String::new(),
            rust_log: None,
        }
    }
}

impl Opts {
    /// The `hotline.toml` text: node, directories, `[media]` and `[numbers]`.
    fn hotline_toml(&self, profiles: &Path) -> String {
        // WebRTC on a free loopback port: servers of parallel tests must not share one.
        let mut t = format!(
            "# written by tests/common/mod.rs\nnode_id = \"test\"\nprofiles_dir = {:?}\n\
             webrtc_listen = \"127.0.0.1:0\"\nregion_db = {:?}\n",
            profiles.display().to_string(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/phone.dat")
                .display()
                .to_string()
        );
        if let Some(dir) = &self.prompts_dir {
            t.push_str(&format!("prompts_dir = {:?}\n", dir.display().to_string()));
        }
        if let Some(dir) = &self.flows_dir {
            t.push_str(&format!("flows_dir = {:?}\n", dir.display().to_string()));
        }
        t.push_str("\n[media]\n");
        if let Some(secs) = self.rtp_timeout_secs {
            t.push_str(&format!("rtp_timeout_secs = {secs}\n"));
        }
        if let Some(record) = self.record {
            t.push_str(&format!("record = {record}\n"));
        }
        if let Some(secs) = self.shutdown_grace_secs {
            t.push_str(&format!("shutdown_grace_secs = {secs}\n"));
        }
        if let Some(n) = self.media_workers {
            t.push_str(&format!("workers = {n}\n"));
        }
        if let Some(c) = self.opus_complexity {
            t.push_str(&format!("opus_complexity = {c}\n"));
        }
        if !self.numbers.is_empty() || !self.numbers_toml.is_empty() {
            t.push_str("\n[numbers]\n");
            for (number, app) in &self.numbers {
                t.push_str(&format!("{number:?} = {app:?}\n"));
            }
            t.push_str(&self.numbers_toml);
        }
        if !self.tables_toml.is_empty() {
            t.push('\n');
            t.push_str(&self.tables_toml);
        }
        t
    }

    /// The `sip-profiles/test.toml` text (schema: `sip-profiles/README.md`).
    fn profile_toml(&self, listen: SocketAddr) -> String {
        let codecs: Vec<String> = self.codecs.iter().map(|c| format!("{c:?}")).collect();
        let mut t = format!(
            "# written by tests/common/mod.rs\n\
             listen = \"{listen}\"\n\
             transports = [\"udp\", \"tcp\"]\n\
             ring_ms = {}\n\
             max_call_seconds = {}\n\
             codecs = [{}]\n\
             {}\n\n\
             [rate_limit]\n\
             per_second = {}\n\
             burst = {}\n\n\
             [[trunks]]\n\
             name = \"test\"\n\
             allow = [\"127.0.0.0/8\"]\n",
            self.ring_ms,
            self.max_call_seconds,
            codecs.join(", "),
            self.extra.trim_end(),
            self.rate_limit,
            self.rate_limit.saturating_mul(2).max(1),
        );
        if let Some(t1) = self.t1_ms {
            t.push_str(&format!("\n[timers]\nt1_ms = {t1}\n"));
        }
        for (user, password) in &self.users {
            t.push_str(&format!(
                "\n[[users]]\nusername = {user:?}\npassword = {password:?}\n"
            ));
        }
        t
    }
}

/// A running `hotline serve`, killed on drop.
pub struct Hotline {
    child: Child,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub log: PathBuf,
    pub dir: TempDir,
    /// The `hotline.toml` written for this server.
    pub config: PathBuf,
    /// `--data-dir`: the CDR database lives here.
    pub data: PathBuf,
    /// `--recordings`.
    pub recordings: PathBuf,
    rtp: (u16, u16),
    /// Set once the process has been reaped ([`Hotline::wait_exit`], [`Hotline::kill9`]).
    exited: Option<ExitStatus>,
}

impl Hotline {
    /// Writes a config into a temp dir, starts the binary and waits (bounded) until it
    /// answers an OPTIONS over UDP with 200.
    pub fn start(opts: Opts) -> Hotline {
        let dir = TempDir::new("server");
        let sip = opts.sip_listen.unwrap_or_else(|| {
            let port = free_port_udp_tcp("127.0.0.1");
            SocketAddr::from(([127, 0, 0, 1], port))
        });
        let http = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let rtp = free_udp_range(1000, RangeUse::Server);

        let profiles = dir.path().join("sip-profiles");
        let data = dir.path().join("data");
        let recordings = dir.path().join("recordings");
        for d in [&profiles, &data, &recordings] {
            fs::create_dir_all(d).expect("create server dirs");
        }
        fs::write(profiles.join("test.toml"), opts.profile_toml(sip)).expect("write profile");
        let config = dir.path().join("hotline.toml");
        fs::write(&config, opts.hotline_toml(&profiles)).expect("write hotline.toml");

        let log = dir.path().join("hotline.log");
        fs::File::create(&log).expect("create log");
        let mut server = Hotline {
            child: spawn_server(
                &config,
                sip,
                http,
                rtp,
                &data,
                &recordings,
                &log,
                &opts.rust_log,
            ),
            sip,
            http,
            log,
            dir,
            config,
            data,
            recordings,
            rtp,
            exited: None,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut tries = 0u32;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "hotline exited during start-up ({status}); log tail:\n{}",
                    tail(&self.log, 60)
                );
            }
            tries += 1;
            if let Some(resp) = options_udp(self.sip, Duration::from_millis(300))
                && resp.code == 200
            {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "hotline did not answer OPTIONS with 200 on udp:{} within {:?} ({tries} tries); \
             log tail:\n{}",
            self.sip,
            START_TIMEOUT,
            tail(&self.log, 60)
        );
    }

    /// Panics with the log tail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited {
            panic!(
                "hotline has exited ({status}); log tail:\n{}",
                tail(&self.log, 80)
            );
        }
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "hotline died ({status}); log tail:\n{}",
                tail(&self.log, 80)
            );
        }
    }

    /// The whole server log so far.
    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The log lines containing any of `needles` (at most the last 40), for failure messages.
    pub fn log_lines(&self, needles: &[&str]) -> String {
        let text = self.log_text();
        let hits: Vec<&str> = text
            .lines()
            .filter(|l| needles.iter().any(|n| l.contains(n)))
            .collect();
        hits[hits.len().saturating_sub(40)..].join("\n")
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// `sip:USER@host:port` for this server.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.sip)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (graceful stop: drain, then exit by itself). The shell's builtin `kill`
    /// is used: it exists wherever `sh` does, unlike a `kill` binary.
    pub fn sigterm(&mut self) {
        assert!(self.exited.is_none(), "sigterm: hotline has already exited");
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -TERM {}", self.pid()))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "could not send SIGTERM to hotline (pid {})", self.pid());
    }

    /// SIGKILL, then reaps the process: a crash as the operating system sees it.
    pub fn kill9(&mut self) {
        assert!(self.exited.is_none(), "kill9: hotline has already exited");
        self.child.kill().expect("send SIGKILL to hotline");
        let status = self.child.wait().expect("reap hotline");
        self.exited = Some(status);
    }

    /// Waits (bounded) for the process to exit by itself; `None` if it is still running.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return self.exited;
        }
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return self.exited;
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same config, ports and data (after it exited or was
    /// killed) and waits until it answers.
    pub fn restart(&mut self) {
        assert!(
            self.exited.is_some(),
            "restart: stop the server first (sigterm + wait_exit, or kill9)"
        );
        let _ = fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .and_then(|mut f| writeln!(f, "==== restarted by the test harness ===="));
        self.child = spawn_server(
            &self.config,
            self.sip,
            self.http,
            self.rtp,
            &self.data,
            &self.recordings,
            &self.log,
            &None,
        );
        self.exited = None;
        self.wait_ready();
    }

    /// The CDR of `call_id`; panics, showing every CDR, when there is none.
    pub fn cdr_of(&self, call_id: &str) -> Value {
        let calls = self.calls();
        calls
            .iter()
            .find(|c| text(c, "call_id") == call_id)
            .cloned()
            .unwrap_or_else(|| panic!("no CDR for {call_id}:\n{}", show_calls(&calls)))
    }

    /// Every CDR, newest first, as `hotline calls list --json` prints them (works whether
    /// or not the server runs). Panics with the command's stderr if it fails.
    pub fn calls(&self) -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["calls", "list", "--json", "--limit", "1000"])
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data)
            .env_remove("HOTLINE_DATABASE_URL")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run hotline calls list");
        assert!(
            out.status.success(),
            "hotline calls list failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("calls list printed a line that is not JSON ({e}): {l}")
                })
            })
            .collect()
    }

    /// `GET /api/v1/calls` of the running server: the `calls` array, or why not.
    pub fn api_calls(&self) -> Result<Vec<Value>, String> {
        let (status, body) = http_get(self.http, "/api/v1/calls?limit=1000")?;
        if status != 200 {
            return Err(format!("GET /api/v1/calls answered {status}: {body}"));
        }
        let v: Value =
            serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))?;
        v.get("calls")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| format!("no \"calls\" array in {body}"))
    }

    /// Polls the CDRs (the API while the server runs, else the CLI) until one satisfies
    /// `pred`, bounded by `wait`; panics with every CDR and the log tail otherwise.
    pub fn wait_call(
        &mut self,
        what: &str,
        wait: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            if self.exited.is_none()
                && let Ok(Some(status)) = self.child.try_wait()
            {
                self.exited = Some(status);
            }
            // The API while the server runs; the CLI reads the database without it.
            let (calls, trouble) = if self.exited.is_none() {
                match self.api_calls() {
                    Ok(c) => (c, None),
                    Err(e) => (Vec::new(), Some(e)),
                }
            } else {
                (self.calls(), None)
            };
            if let Some(c) = calls.iter().find(|c| pred(c)) {
                return c.clone();
            }
            if Instant::now() >= deadline {
                panic!(
                    "no CDR {what} within {wait:?}{}; CDRs:\n{}\n---- hotline log tail ----\n{}",
                    trouble
                        .map(|e| format!(" (last API error: {e})"))
                        .unwrap_or_default(),
                    show_calls(&calls),
                    tail(&self.log, 60)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The CDR of `call_id` once it has ended (state `ended`), bounded by `wait`.
    pub fn wait_ended(&mut self, call_id: &str, wait: Duration) -> Value {
        self.wait_call(&format!("for {call_id} in state ended"), wait, |c| {
            c["call_id"] == call_id && c["state"] == "ended"
        })
    }

    /// Panics with `what`, the CDR and the log tail unless `ok`.
    pub fn check_cdr(&self, cdr: &Value, ok: bool, what: &str) {
        assert!(
            ok,
            "{what}\nCDR: {cdr}\n---- hotline log tail ----\n{}",
            tail(&self.log, 60)
        );
    }

    /// Every WAV file under the recordings directory.
    pub fn recording_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![self.recordings.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "wav") {
                    found.push(p);
                }
            }
        }
        found
    }
}

impl Drop for Hotline {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "---- hotline log tail ({}) ----\n{}\n---- end of hotline log ----",
                self.log.display(),
                tail(&self.log, 80)
            );
        }
    }
}

/// Starts `hotline serve` with everything on the command line; output is appended to `log`.
#[allow(clippy::too_many_arguments)]
fn spawn_server(
    config: &Path,
    sip: SocketAddr,
    http: SocketAddr,
    rtp: (u16, u16),
    data: &Path,
    recordings: &Path,
    log: &Path,
    rust_log: &Option<String>,
) -> Child {
    let out = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
        .expect("open the server log");
    let err = out.try_clone().expect("clone log handle");
    Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--sip-listen")
        .arg(sip.to_string())
        .arg("--http-listen")
        .arg(http.to_string())
        .arg("--rtp-ports")
        .arg(format!("{}-{}", rtp.0, rtp.1))
        .arg("--data-dir")
        .arg(data)
        .arg("--recordings")
        .arg(recordings)
        // Debug for our own code; sqlx's per-query lines would bury it.
        .env("RUST_LOG", rust_log.as_deref().unwrap_or("debug,sqlx=warn"))
        .env("NO_COLOR", "1")
        .env_remove("HOTLINE_IN_NETNS")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn the hotline binary")
}

/// A CDR's text field, `""` when absent or null.
pub fn text<'a>(cdr: &'a Value, key: &str) -> &'a str {
    cdr.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A CDR's number field.
pub fn num(cdr: &Value, key: &str) -> Option<f64> {
    cdr.get(key).and_then(Value::as_f64)
}

/// CDRs one JSON object per line, for failure messages.
pub fn show_calls(calls: &[Value]) -> String {
    if calls.is_empty() {
        return "(no CDRs)".into();
    }
    calls
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A minimal HTTP/1.0 GET on loopback: `(status, body)`.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n"
    )
    .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header end in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// Renders the built-in apps' prompts with `scripts/make-prompts.sh` into `dir/prompts`
/// (for [`Opts::prompts_dir`]).
pub fn make_prompts(dir: &Path) -> PathBuf {
    require_binary("espeak-ng");
    require_binary("sox");
    let out = dir.join("prompts");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-prompts.sh");
    let res = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/make-prompts.sh");
    assert!(
        res.status.success(),
        "scripts/make-prompts.sh {} failed ({}): {}",
        out.display(),
        res.status,
        String::from_utf8_lossy(&res.stderr)
    );
    out
}
