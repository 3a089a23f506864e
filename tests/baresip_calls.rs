//! A real softphone (baresip 1.0, headless) calls the server: the call is established with
//! PCMU, and again with PCMA, then hung up. baresip is driven and observed over its ctrl_tcp
//! interface (netstring JSON); the negotiated codec is read from the server's SDP answer as
//! baresip reports it (`callstat` → "remote formats").
//! Config templates: `tests/baresip/*.template`; the microphone is an espeak-ng WAV.

mod common;

use common::{
    Hotline, Opts, RangeUse, TempDir, free_port_udp_tcp, free_tcp_port, free_udp_range,
    require_binary, tail, test_path,
};
use serde_json::{Value, json};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NUMBER: &str = "400800";
const CTRL_CONNECT_WAIT: Duration = Duration::from_secs(10);
const ESTABLISH_WAIT: Duration = Duration::from_secs(20);
const CLOSE_WAIT: Duration = Duration::from_secs(10);

#[test]
fn baresip_call_is_established_with_pcmu() {
    call_with_codec("PCMU", "PCMA");
}

#[test]
fn baresip_call_is_established_with_pcma() {
    call_with_codec("PCMA", "PCMU");
}

fn call_with_codec(codec: &str, other: &str) {
    require_binary("baresip");
    require_binary("espeak-ng");
    require_binary("sox");
    let server = Hotline::start(Opts::default());
    let phone = Baresip::start(codec);
    let mut ctrl = phone.ctrl();

    let target = format!("sip:{NUMBER}@{}", server.sip);
    let established = ctrl.command("dial", &target, ESTABLISH_WAIT, |ev| match event_type(ev) {
        Some("CALL_ESTABLISHED") => Some(Ok(())),
        Some("CALL_CLOSED") => Some(Err(format!("call closed before it was established: {ev}"))),
        _ => None,
    });
    if let Err(why) = established {
        phone.fail(&format!("dialling {target} with {codec}: {why}"));
    }

    let stat = ctrl.response("callstat", "", Duration::from_secs(5));
    let stat = match stat {
        Ok(data) => data,
        Err(why) => phone.fail(&format!("callstat: {why}")),
    };
    let formats = remote_audio_formats(&stat);
    println!("{codec}: the server answered with {formats:?}");
    if !formats.iter().any(|f| f.eq_ignore_ascii_case(codec))
        || formats.iter().any(|f| f.eq_ignore_ascii_case(other))
    {
        phone.fail(&format!(
            "the server's answer should carry {codec} (and not {other}, which was not offered); \
             it carried {formats:?}. callstat said:\n{stat}"
        ));
    }
    let mentions = server
        .log_text()
        .lines()
        .filter(|l| l.contains(codec))
        .count();
    println!("{codec}: {mentions} server log lines mention it");

    let closed = ctrl.command("hangup", "", CLOSE_WAIT, |ev| {
        (event_type(ev) == Some("CALL_CLOSED")).then_some(Ok(()))
    });
    if let Err(why) = closed {
        phone.fail(&format!("hangup: {why}"));
    }
    let _ = ctrl.response("quit", "", Duration::from_secs(2));
}

fn event_type(ev: &Value) -> Option<&str> {
    if ev.get("event").and_then(Value::as_bool) == Some(true) {
        ev.get("type").and_then(Value::as_str)
    } else {
        None
    }
}

/// The codec names under the audio stream's "remote formats:" in baresip's call debug text.
fn remote_audio_formats(callstat: &str) -> Vec<String> {
    let mut lines = callstat
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("audio "));
    let mut lines = lines
        .by_ref()
        .skip_while(|l| l.trim() != "remote formats:")
        .skip(1);
    let mut names = Vec::new();
    for line in lines.by_ref() {
        let mut parts = line.split_whitespace();
        let (Some(pt), Some(fmt)) = (parts.next(), parts.next()) else {
            break;
        };
        if pt.parse::<u8>().is_err() {
            break;
        }
        names.push(fmt.split('/').next().unwrap_or(fmt).to_string());
    }
    names
}

// ---------------------------------------------------------------------------------------------
// baresip process

struct Baresip {
    child: Child,
    ctrl_port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl Baresip {
    fn start(codec: &str) -> Baresip {
        let dir = TempDir::new("baresip");
        let wav = speech_wav(dir.path());
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
            .replace("@AUDIO_FILE@", &wav.display().to_string())
            .replace("@RTP_PORTS@", &format!("{rtp_first}-{rtp_last}"))
            .replace("@CTRL_LISTEN@", &format!("127.0.0.1:{ctrl_port}"))
            .replace("@REC_DIR@", &rec.display().to_string());
        let accounts = template("accounts.template").replace("@CODEC@", codec);
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
            dir,
        }
    }

    /// Connects to ctrl_tcp once baresip listens (bounded).
    fn ctrl(&self) -> Ctrl {
        let deadline = Instant::now() + CTRL_CONNECT_WAIT;
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.ctrl_port)) {
                return Ctrl {
                    stream,
                    buf: Vec::new(),
                    token: 0,
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

    fn fail(&self, why: &str) -> ! {
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

/// Some English speech, 8 kHz mono 16-bit (what aufile with ausrc_srate 8000 plays).
fn speech_wav(dir: &Path) -> PathBuf {
    let raw = dir.join("speech-22k.wav");
    let wav = dir.join("speech.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", "en", "-w"])
        .arg(&raw)
        .arg("Hello, I would like to check the status of my order, please.")
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "espeak-ng could not write {}", raw.display());
    let ok = Command::new("sox")
        .arg(&raw)
        .args(["-r", "8000", "-c", "1", "-b", "16"])
        .arg(&wav)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "sox could not convert {} to 8 kHz", raw.display());
    wav
}

// ---------------------------------------------------------------------------------------------
// ctrl_tcp: netstring-framed JSON

struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    token: u32,
}

impl Ctrl {
    fn send(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = format!("t{}", self.token);
        let body = json!({"command": command, "params": params, "token": token}).to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.stream
            .write_all(frame.as_bytes())
            .expect("write to baresip ctrl_tcp");
        token
    }

    /// The next message (event or response), bounded by `deadline`.
    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(colon) = self.buf.iter().position(|b| *b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .expect("ctrl_tcp netstring length");
                if self.buf.len() > colon + len {
                    let msg: Vec<u8> = self.buf.drain(..colon + len + 2).collect();
                    let body = &msg[colon + 1..colon + 1 + len];
                    return Some(serde_json::from_slice(body).expect("ctrl_tcp JSON"));
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Sends a command and waits for its response; returns the response's `data`.
    fn response(&mut self, command: &str, params: &str, wait: Duration) -> Result<String, String> {
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

    /// Sends a command, then reads messages until `done` decides on an event (bounded).
    fn command(
        &mut self,
        command: &str,
        params: &str,
        wait: Duration,
        mut done: impl FnMut(&Value) -> Option<Result<(), String>>,
    ) -> Result<(), String> {
        let token = self.send(command, params);
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while let Some(m) = self.next(deadline) {
            if m.get("token").and_then(Value::as_str) == Some(token.as_str())
                && m.get("ok").and_then(Value::as_bool) == Some(false)
            {
                return Err(format!("{command} refused: {m}"));
            }
            if let Some(verdict) = done(&m) {
                return verdict;
            }
            if let Some(t) = event_type(&m) {
                seen.push(t.to_string());
            }
        }
        Err(format!(
            "no deciding event within {wait:?} after {command}; events seen: {seen:?}"
        ))
    }
}
