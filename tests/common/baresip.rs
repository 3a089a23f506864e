//! baresip 1.0 as a scripted caller for the media tests: headless (the microphone is a WAV
//! file through `aufile`, the speaker ALSA null), `sndfile` dumping what it sent and what it
//! received, driven over `ctrl_tcp` (netstring-framed JSON). Config templates:
//! `tests/baresip/*.template`.

use super::{RangeUse, TempDir, free_port_udp_tcp, free_tcp_port, free_udp_range, tail, test_path};
use serde_json::{Value, json};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CTRL_CONNECT_WAIT: Duration = Duration::from_secs(10);

/// A running baresip, killed on drop.
pub struct Baresip {
    child: Child,
    ctrl_port: u16,
    log: PathBuf,
    /// Where `sndfile` writes `dump-…-enc.wav` (sent) and `dump-…-dec.wav` (received).
    pub rec: PathBuf,
    pub dir: TempDir,
}

impl Baresip {
    /// Starts baresip offering only `codec` (PCMU or PCMA), with `mic` (8 kHz mono 16-bit WAV)
    /// as its microphone. baresip ends the call itself when the file ends.
    pub fn start(codec: &str, mic: &Path) -> Baresip {
        let account =
            format!("<sip:caller@127.0.0.1>;regint=0;audio_codecs={codec};answermode=manual");
        Baresip::start_with_account(&account, mic)
    }

    /// An agent's desk phone: registers to `registrar` as `user` (digest `password`) and
    /// answers every call at once, talking `mic`.
    pub fn start_agent_phone(
        codec: &str,
        mic: &Path,
        registrar: std::net::SocketAddr,
        user: &str,
        password: &str,
    ) -> Baresip {
        let account = format!(
            "<sip:{user}@{registrar}>;auth_pass={password};regint=300;audio_codecs={codec};answermode=auto"
        );
        Baresip::start_with_account(&account, mic)
    }

    /// baresip with one account line (baresip's `accounts` file syntax).
    pub fn start_with_account(account: &str, mic: &Path) -> Baresip {
        super::require_binary("baresip");
        let dir = TempDir::new("baresip");
        let rec = dir.path().join("rec");
        fs::create_dir_all(&rec).expect("create rec dir");
        let ctrl_port = free_tcp_port();
        let sip_port = free_port_udp_tcp("127.0.0.1");
        let (rtp_first, rtp_last) = free_udp_range(100, RangeUse::Peer);
        let template = |name: &str| {
            fs::read_to_string(test_path(&format!("baresip/{name}")))
                .unwrap_or_else(|e| panic!("read tests/baresip/{name}: {e}"))
        };
        let config = template("config.template")
            .replace("@SIP_LISTEN@", &format!("127.0.0.1:{sip_port}"))
            .replace("@AUDIO_FILE@", &mic.display().to_string())
            .replace("@RTP_PORTS@", &format!("{rtp_first}-{rtp_last}"))
            .replace("@CTRL_LISTEN@", &format!("127.0.0.1:{ctrl_port}"))
            .replace("@REC_DIR@", &rec.display().to_string());
        let accounts = format!("{account}\n");
        fs::write(dir.path().join("config"), config).expect("write baresip config");
        fs::write(dir.path().join("accounts"), accounts).expect("write baresip accounts");

        let log = dir.path().join("baresip.log");
        let out = fs::File::create(&log).expect("create baresip log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn baresip");
        Baresip {
            child,
            ctrl_port,
            log,
            rec,
            dir,
        }
    }

    /// Connects to ctrl_tcp once baresip listens (bounded).
    pub fn ctrl(&self) -> Ctrl {
        let deadline = Instant::now() + CTRL_CONNECT_WAIT;
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.ctrl_port)) {
                return Ctrl {
                    stream,
                    buf: Vec::new(),
                    token: 0,
                    seen: Vec::new(),
                };
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "ctrl_tcp did not accept on 127.0.0.1:{} within {CTRL_CONNECT_WAIT:?}",
                    self.ctrl_port
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The sndfile dump whose name ends with `suffix` (`-enc.wav` sent, `-dec.wav` received).
    pub fn dump(&self, suffix: &str) -> PathBuf {
        let found: Vec<PathBuf> = fs::read_dir(&self.rec)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with(suffix))
                    .collect()
            })
            .unwrap_or_default();
        match found.as_slice() {
            [one] => one.clone(),
            _ => self.fail(&format!(
                "expected one sndfile dump *{suffix} in {}, found {found:?}",
                self.rec.display()
            )),
        }
    }

    /// Panics with `why` and baresip's output.
    pub fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\n---- baresip output ({}) ----\n{}",
            self.dir.path().display(),
            tail(&self.log, 60)
        );
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `type` of a ctrl_tcp event message, `None` for responses.
pub fn event_type(m: &Value) -> Option<&str> {
    if m.get("event").and_then(Value::as_bool) == Some(true) {
        m.get("type").and_then(Value::as_str)
    } else {
        None
    }
}

/// One ctrl_tcp connection.
pub struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    token: u32,
    /// Every event type seen so far, for failure messages.
    pub seen: Vec<String>,
}

impl Ctrl {
    /// Sends a command; returns its token.
    pub fn send(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = format!("t{}", self.token);
        let body = json!({"command": command, "params": params, "token": token}).to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.stream
            .write_all(frame.as_bytes())
            .expect("write to baresip ctrl_tcp");
        token
    }

    /// The next message (event or response) before `deadline`; `None` on timeout or EOF.
    pub fn next(&mut self, deadline: Instant) -> Option<Value> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(colon) = self.buf.iter().position(|b| *b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .ok()
                    .and_then(|s| s.trim().parse().ok())?;
                if self.buf.len() > colon + len {
                    let msg: Vec<u8> = self.buf.drain(..colon + len + 2).collect();
                    let v: Value = serde_json::from_slice(&msg[colon + 1..colon + 1 + len]).ok()?;
                    if let Some(t) = event_type(&v) {
                        self.seen.push(t.to_string());
                    }
                    return Some(v);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }

    /// Sends a command and waits (bounded) for its response; `Ok(data)` if it was accepted.
    pub fn response(
        &mut self,
        command: &str,
        params: &str,
        wait: Duration,
    ) -> Result<String, String> {
        let token = self.send(command, params);
        let deadline = Instant::now() + wait;
        while let Some(m) = self.next(deadline) {
            if m.get("response").and_then(Value::as_bool) == Some(true)
                && m.get("token").and_then(Value::as_str) == Some(token.as_str())
            {
                let data = m
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                return match m.get("ok").and_then(Value::as_bool) {
                    Some(true) => Ok(data),
                    _ => Err(format!("{command} refused: {m}")),
                };
            }
        }
        Err(format!("no response to {command} within {wait:?}"))
    }

    /// Reads messages until an event of type `kind` arrives (bounded); returns it.
    pub fn wait_event(&mut self, kind: &str, wait: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + wait;
        while let Some(m) = self.next(deadline) {
            if event_type(&m) == Some(kind) {
                return Ok(m);
            }
        }
        Err(format!(
            "no {kind} event within {wait:?}; events seen: {:?}",
            self.seen
        ))
    }
}

/// English speech from espeak-ng as 8 kHz mono 16-bit, followed by `pad_secs` of silence
/// (the WAV aufile plays; baresip hangs up when it ends).
pub fn speech_wav(dir: &Path, text: &str, pad_secs: f64) -> PathBuf {
    super::require_binary("espeak-ng");
    super::require_binary("sox");
    let raw = dir.join("speech-22k.wav");
    let wav = dir.join("speech.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", "en", "-w"])
        .arg(&raw)
        .arg(text)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "espeak-ng could not write {}", raw.display());
    let ok = Command::new("sox")
        .arg(&raw)
        .args(["-r", "8000", "-c", "1", "-b", "16"])
        .arg(&wav)
        .args(["pad", "0"])
        .arg(format!("{pad_secs}"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "sox could not convert {} to 8 kHz", raw.display());
    wav
}
